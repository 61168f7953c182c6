// Command breakglass is a healthgate rule: a break-the-glass override needs
// an accepted purpose of use, EMERG unless the rule's config names others
// (config purpose_of_use EMERG ETREAT).
//
// Override requested, accepted purpose → allow; override without one →
// deny 403 purpose_of_use_required; no override → abstain.
package main

import "github.com/healthgate/healthgate/wasmfilter/sdk/go/rule"

// accepted holds the accepted purposes of use, read once by configure.
var accepted = []string{"EMERG"}

func init() {
	rule.Configure(func() error {
		if vs := rule.Config("purpose_of_use"); len(vs) > 0 {
			accepted = vs
		}
		return nil
	})
	rule.Handle(decide)
}

func decide() rule.Decision {
	if !rule.Is("override", "true") {
		return rule.Abstain
	}
	if rule.HasAny("purpose_of_use", accepted...) {
		return rule.Respond(rule.Allow, rule.Result{Reason: "break-the-glass with an accepted purpose of use"})
	}
	return rule.DenyWith(403, "purpose_of_use_required", "break-the-glass without an accepted purpose of use")
}

func main() {}
