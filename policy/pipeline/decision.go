package pipeline

// Effect is what a policy says of a request.
type Effect uint8

// Abstain is the zero value, so a forgotten decision never allows.
const (
	Abstain Effect = iota
	Allow
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "abstain"
}

// Decision is one policy's verdict. A Deny always carries a Failure.
type Decision struct {
	Effect Effect
	// Failure says how to answer a Deny.
	Failure *Failure
	// Grounds names what decided: the scopes, policy OIDs or rule results
	// the audit record lists. Never credentials.
	Grounds []string
}

// Allowed returns an Allow decision on the given grounds.
func Allowed(grounds ...string) Decision { return Decision{Effect: Allow, Grounds: grounds} }

// Denied returns a Deny decision. A nil Failure becomes a generic 403.
func Denied(f *Failure, grounds ...string) Decision {
	if f == nil {
		f = Forbidden("denied", nil)
	}
	return Decision{Effect: Deny, Failure: f, Grounds: grounds}
}

// Abstained returns an Abstain decision.
func Abstained() Decision { return Decision{} }
