// Package rule is the Go SDK for healthgate rules: a rule is a plain Go
// function that reads attributes of the verified security context and
// returns Allow, Deny or Abstain.
//
//	package main
//
//	import "github.com/healthgate/healthgate/wasmfilter/sdk/go/rule"
//
//	func init() { rule.Handle(decide) }
//
//	func decide() rule.Decision {
//		if !rule.Has("purpose_of_use", "EMERG") {
//			return rule.DenyWith(403, "purpose_of_use_required", "break-the-glass needs EMERG")
//		}
//		return rule.Allow
//	}
//
//	func main() {}
//
// Build it as a WASI reactor (Go 1.24 or later):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rule.wasm .
//
// Register the function in init: a reactor's main is never called. Avoid
// encoding/json and fmt on the request path: attribute getters cost about
// 0.1 µs each, a JSON round trip about 55 µs. See docs/rules.md.
package rule
