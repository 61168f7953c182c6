// Command healthgate is Caddy with its standard modules and the healthgate
// modules: `go build ./cmd/healthgate` gives a gateway whose commands are
// Caddy's plus `healthgate pki`, `healthgate demo` and the rest.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/healthgate/healthgate"
)

func main() {
	caddycmd.Main()
}
