// Package healthgate registers the healthgate Caddy modules. Import it (or
// build with `xcaddy build --with github.com/healthgate/healthgate`) to get
// the healthgate handler, its verifiers, policies and commands.
//
// The logic lives in policy/... (Caddy-free) and wasmfilter; the Caddy
// adapters in caddymodule.
package healthgate

import (
	_ "github.com/healthgate/healthgate/caddymodule"
)
