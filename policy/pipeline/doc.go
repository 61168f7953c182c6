// Package pipeline is the Caddy-free spine every request passes:
// credentials → principal → decision. The Caddy handler builds a Request,
// calls Run and applies the Outcome (the effects).
//
// Adding a credential type means writing a Verifier; adding a rule means
// writing a Policy. Neither touches this package.
package pipeline
