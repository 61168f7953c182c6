// Command gopanic is a Go rule that panics (a nil map write) when the
// request carries the claim "fail", and allows otherwise: a Go panic kills
// the instance, which the host must discard and replace.
package main

import "github.com/healthgate/healthgate/wasmfilter/sdk/go/rule"

func init() { rule.Handle(decide) }

var m map[string]int

func decide() rule.Decision {
	if rule.Is("claims.fail", "yes") {
		m["fail"]++
	}
	return rule.Allow
}

func main() {}
