package wasmfilter

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Result is a rule's validated verdict on one request.
type Result struct {
	Effect pipeline.Effect
	// Reason is the rule's explanation. It goes to the log and the audit
	// record, never to the client: it may quote request data.
	Reason string
	// Code is a stable reason code for the client on deny. Default:
	// "rule_denied".
	Code string
	// Status is the deny status, one of AllowedDenyStatus; 0 means the
	// default, 403.
	Status int
	// Obligations are set only on allow.
	Obligations Obligations
}

// AllowedDenyStatus lists the statuses a rule may deny with. Anything else
// (a 2xx or 3xx above all) would be a refusal that does not look like one.
var AllowedDenyStatus = []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnavailableForLegalReasons}

// Bounds on a result, whatever its size limit.
const (
	maxReasonBytes   = 1024
	maxObligations   = 32
	maxClaimValues   = 32
	maxClaimValueLen = 1024
)

var (
	codePattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	claimPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

// wireResult is the JSON a guest passes to FuncSetResult.
type wireResult struct {
	Decision    string           `json:"decision"`
	Reason      string           `json:"reason,omitempty"`
	Code        string           `json:"code,omitempty"`
	Status      int              `json:"status,omitempty"`
	Obligations *wireObligations `json:"obligations,omitempty"`
}

type wireObligations struct {
	RequestHeaders *struct {
		Set    map[string]string `json:"set,omitempty"`
		Remove []string          `json:"remove,omitempty"`
	} `json:"request_headers,omitempty"`
	Claims *struct {
		Set map[string]claimValues `json:"set,omitempty"`
	} `json:"claims,omitempty"`
}

// claimValues accepts a string or a list of strings.
type claimValues []string

func (c *claimValues) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = claimValues{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(c))
}

// effectOf maps a return code of ExportEvaluate to its effect.
func effectOf(code int32) (pipeline.Effect, error) {
	switch code {
	case ResultDeny:
		return pipeline.Deny, nil
	case ResultAllow:
		return pipeline.Allow, nil
	case ResultAbstain:
		return pipeline.Abstain, nil
	}
	return 0, abiError("%s returned %d, want %d (deny), %d (allow) or %d (abstain)",
		ExportEvaluate, code, ResultDeny, ResultAllow, ResultAbstain)
}

// ParseResult validates the guest's return code and the JSON it set (raw may
// be empty: the result is optional). The return code decides; a result that
// names another decision, does not parse, carries unknown fields or breaks a
// bound is an ABI violation, and so never an allow.
func ParseResult(code int32, raw []byte) (Result, error) {
	effect, err := effectOf(code)
	if err != nil {
		return Result{}, err
	}
	res := Result{Effect: effect}
	if len(raw) == 0 {
		return res, nil
	}
	var w wireResult
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Result{}, abiError("result does not parse: %v", err)
	}
	if dec.More() {
		return Result{}, abiError("result has data after the JSON object")
	}
	if w.Decision != effect.String() {
		return Result{}, abiError("result says %q but %s returned %d (%s)", w.Decision, ExportEvaluate, code, effect)
	}
	if len(w.Reason) > maxReasonBytes || !utf8.ValidString(w.Reason) {
		return Result{}, abiError("reason is not valid UTF-8 of at most %d bytes", maxReasonBytes)
	}
	res.Reason = w.Reason
	if w.Code != "" && !codePattern.MatchString(w.Code) {
		return Result{}, abiError("code %q does not match %s", w.Code, codePattern)
	}
	res.Code = w.Code
	if w.Status != 0 {
		if effect != pipeline.Deny {
			return Result{}, abiError("status %d on a %s result: a status applies only to deny", w.Status, effect)
		}
		if !slices.Contains(AllowedDenyStatus, w.Status) {
			return Result{}, abiError("status %d is not one of %v", w.Status, AllowedDenyStatus)
		}
		res.Status = w.Status
	}
	if effect == pipeline.Allow && w.Obligations != nil {
		if res.Obligations, err = w.Obligations.parse(); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

func (w *wireObligations) parse() (Obligations, error) {
	var o Obligations
	if h := w.RequestHeaders; h != nil {
		if len(h.Set)+len(h.Remove) > maxObligations {
			return o, abiError("more than %d header obligations", maxObligations)
		}
		for name, value := range h.Set {
			if !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
				return o, abiError("header obligation %q is not a valid header", name)
			}
			if o.SetHeaders == nil {
				o.SetHeaders = make(map[string]string, len(h.Set))
			}
			o.SetHeaders[http.CanonicalHeaderKey(name)] = value
		}
		for _, name := range h.Remove {
			if !httpguts.ValidHeaderFieldName(name) {
				return o, abiError("header obligation %q is not a valid header name", name)
			}
			o.RemoveHeaders = append(o.RemoveHeaders, http.CanonicalHeaderKey(name))
		}
	}
	if c := w.Claims; c != nil {
		if len(c.Set) > maxObligations {
			return o, abiError("more than %d claim obligations", maxObligations)
		}
		for name, vs := range c.Set {
			if !claimPattern.MatchString(name) {
				return o, abiError("claim name %q does not match %s", name, claimPattern)
			}
			if len(vs) == 0 || len(vs) > maxClaimValues {
				return o, abiError("claim %q needs 1 to %d values", name, maxClaimValues)
			}
			for _, v := range vs {
				if len(v) > maxClaimValueLen || !utf8.ValidString(v) {
					return o, abiError("claim %q has a value that is not valid UTF-8 of at most %d bytes", name, maxClaimValueLen)
				}
			}
			if o.Claims == nil {
				o.Claims = make(map[string][]string, len(c.Set))
			}
			o.Claims[name] = []string(vs)
		}
	}
	return o, nil
}

// DenyStatus is the status a deny answers with (0 for another effect).
func (r Result) DenyStatus() int {
	if r.Effect != pipeline.Deny {
		return 0
	}
	return cmp.Or(r.Status, http.StatusForbidden)
}

// DenyCode is the reason code a deny answers with ("" for another effect).
func (r Result) DenyCode() string {
	if r.Effect != pipeline.Deny {
		return ""
	}
	return cmp.Or(r.Code, "rule_denied")
}

// String names the decision for logs.
func (r Result) String() string {
	if r.Reason == "" {
		return r.Effect.String()
	}
	return fmt.Sprintf("%s (%s)", r.Effect, r.Reason)
}
