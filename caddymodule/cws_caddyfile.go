package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/cws"
	"github.com/healthgate/healthgate/policy/identity"
)

// UnmarshalCaddyfile reads the cws sub-directive of healthgate:
//
//	cws [<key directory>] {
//		keys_file     <file>             # users and PEM keys; with or instead of the directory
//		allow_sha1    [<user>...]        # no user: every user (CWS V1 clients)
//		max_body      <size>             # default 1GiB; larger → 413
//		memory_body   <size>             # default 1MiB; the rest spools to a temporary file
//		temp_dir      <dir>              # default: the system's
//		replay_window <duration>         # default off
//		replay_cache  <entries>          # default 100000
//		facet         user|application|device   # default user
//	}
func (c *CWS) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // cws
	if d.NextArg() {
		if c.Dir != "" {
			return d.Errf("cws: key directory given twice (%q and %q)", c.Dir, d.Val())
		}
		c.Dir = d.Val()
	}
	if d.NextArg() {
		return d.Errf("cws: one key directory at most, got also %q", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "keys_file":
			if c.KeysFile != "" {
				return d.Errf("cws keys_file: given twice")
			}
			if !d.AllArgs(&c.KeysFile) {
				return d.ArgErr()
			}
		case "allow_sha1":
			users := d.RemainingArgs()
			if len(users) == 0 {
				c.AllowSHA1 = true
			}
			for _, u := range users {
				if err := cws.CheckUser(u); err != nil {
					return d.Errf("cws allow_sha1 %q: %v", u, err)
				}
			}
			c.SHA1Users = append(c.SHA1Users, users...)
		case "max_body", "memory_body":
			n, err := parseSize(d, "cws "+sub)
			if err != nil {
				return err
			}
			if sub == "max_body" {
				c.MaxBody = n
			} else {
				c.MemoryBody = n
			}
		case "temp_dir":
			if !d.AllArgs(&c.TempDir) {
				return d.ArgErr()
			}
		case "replay_window":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			w, err := caddy.ParseDuration(s)
			if err != nil || w <= 0 {
				return d.Errf("cws replay_window %q: want a positive duration such as 5m", s)
			}
			c.ReplayWindow = caddy.Duration(w)
		case "replay_cache":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return d.Errf("cws replay_cache %q: want a positive number of entries", s)
			}
			c.ReplayCache = n
		case "facet":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			if _, err := identity.ParseKind(s); err != nil {
				return d.Errf("cws facet %q: want user, application or device", s)
			}
			c.Facet = s
		default:
			return d.Errf("cws: unknown option %q", sub)
		}
	}
	if c.Dir == "" && c.KeysFile == "" {
		return d.Errf("cws: no keys: give a key directory (cws <dir>) or a keys_file")
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*CWS)(nil)
