package caddymodule

import (
	"math"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"
)

// parseSize reads one size argument (64KiB, 1MiB).
func parseSize(d *caddyfile.Dispenser, what string) (int64, error) {
	var s string
	if !d.AllArgs(&s) {
		return 0, d.ArgErr()
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > math.MaxInt64 {
		return 0, d.Errf("%s %q: want a positive size such as 64KiB or 1MiB", what, s)
	}
	return int64(n), nil
}
