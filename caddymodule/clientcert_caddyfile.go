package caddymodule

import (
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

	"github.com/healthgate/healthgate/policy/clientcert"
)

// UnmarshalCaddyfile sets up client_cert. Syntax (inside `healthgate`):
//
//	client_cert {
//		trust_pool   <module> ...          # as client_auth's, e.g. trust_pool file /etc/ca.pem
//		pin          <pem_file...>         # or: pin file|folder|pem|storage ...
//		from_header  <format> [<header> [<chain_header>]]
//		map          <field> <pattern> <kind> <id> [issuer <pattern>]
//		map_file     <path>
//		unmapped     deny|allow
//		revocation   [ocsp|crl|ocsp_then_crl] [soft|hard] {
//			crl_file <path...>
//			timeout  <duration>
//			max_ttl  <duration>
//		}
//		forward      x_ssl_clientcert|rfc9440|none
//		cache_size   <entries>
//	}
//
// <format> is pem, escaped_pem, base64_der, rfc9440, xfcc or alb; <field> is
// sha1, sha256, subject, subject_cn, san_dns, san_uri or san_email; <kind>
// is device, application or user. Given twice, client_cert adds to the same
// configuration.
func (c *ClientCert) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // client_cert
	if d.NextArg() {
		return d.Errf("client_cert: takes a block, not arguments (got %q)", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "trust_pool":
			if c.TrustPoolRaw != nil {
				return d.Err("client_cert trust_pool: given twice (use trust_pool combined { … } for several sources)")
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			name := d.Val()
			mod, err := caddyfile.UnmarshalModule(d, "tls.ca_pool.source."+name)
			if err != nil {
				return d.Errf("client_cert trust_pool %s: %v", name, err)
			}
			if _, ok := mod.(caddytls.CA); !ok {
				return d.Errf("client_cert trust_pool %s: not a certificate pool module", name)
			}
			c.TrustPoolRaw = caddyconfig.JSONModuleObject(mod, "provider", name, nil)
		case "pin":
			if !d.NextArg() {
				return d.Errf("client_cert pin: name the PEM file(s) of the pinned certificates")
			}
			if name := d.Val(); d.CountRemainingArgs() > 0 && slices.Contains([]string{"file", "folder", "pem", "storage"}, name) {
				mod, err := caddyfile.UnmarshalModule(d, "tls.leaf_cert_loader."+name)
				if err != nil {
					return d.Errf("client_cert pin %s: %v", name, err)
				}
				c.PinsRaw = append(c.PinsRaw, caddyconfig.JSONModuleObject(mod, "loader", name, nil))
				continue
			}
			files := append([]string{d.Val()}, d.RemainingArgs()...)
			c.PinsRaw = append(c.PinsRaw, caddyconfig.JSONModuleObject(caddytls.LeafFileLoader{Files: files}, "loader", "file", nil))
		case "from_header":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 3 {
				return d.Errf("client_cert from_header: want <format> [<header> [<chain_header>]], got %d arguments", len(args))
			}
			if c.FromHeader != nil {
				return d.Err("client_cert from_header: given twice")
			}
			fh := &ClientCertHeader{Format: args[0]}
			if len(args) > 1 {
				fh.Header = args[1]
			}
			if len(args) > 2 {
				fh.ChainHeader = args[2]
			}
			f, err := clientcert.ParseFormat(fh.Format)
			if err == nil {
				_, err = clientcert.NewSource(f, fh.Header, fh.ChainHeader)
			}
			if err != nil {
				return d.Errf("client_cert from_header: %v", err)
			}
			c.FromHeader = fh
		case "map":
			args := d.RemainingArgs()
			if _, err := clientcert.ParseRule(args); err != nil {
				return d.Errf("client_cert map: %v", err)
			}
			r := ClientCertRule{Field: args[0], Pattern: args[1], Kind: args[2], ID: args[3]}
			if len(args) == 6 {
				r.Issuer = args[5]
			}
			c.Map = append(c.Map, r)
		case "map_file":
			var path string
			if !d.AllArgs(&path) {
				return d.ArgErr()
			}
			c.MapFiles = append(c.MapFiles, path)
		case "unmapped":
			if !d.AllArgs(&c.Unmapped) {
				return d.ArgErr()
			}
			if _, err := clientcert.ParseUnmapped(c.Unmapped); err != nil {
				return d.Errf("client_cert unmapped: %v", err)
			}
		case "revocation":
			rv, err := unmarshalRevocation(d)
			if err != nil {
				return err
			}
			c.Revocation = rv
		case "forward":
			if !d.AllArgs(&c.Forward) {
				return d.ArgErr()
			}
			if _, err := clientcert.ParseForward(c.Forward); err != nil {
				return d.Errf("client_cert forward: %v", err)
			}
		case "cache_size":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return d.Errf("client_cert cache_size: want a positive number of entries, got %q", s)
			}
			c.CacheSize = n
		default:
			return d.Errf("client_cert: unknown sub-directive %q", sub)
		}
	}
	return nil
}

func unmarshalRevocation(d *caddyfile.Dispenser) (*ClientCertRevocation, error) {
	rv := &ClientCertRevocation{}
	for _, a := range d.RemainingArgs() {
		if _, err := clientcert.ParseMethod(a); err == nil && rv.Method == "" {
			rv.Method = a
			continue
		}
		if _, err := clientcert.ParseMode(a); err == nil && rv.Mode == "" {
			rv.Mode = a
			continue
		}
		return nil, d.Errf("client_cert revocation: unexpected %q (want a method ocsp, crl or ocsp_then_crl and a mode off, soft or hard)", a)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "crl_file":
			files := d.RemainingArgs()
			if len(files) == 0 {
				return nil, d.ArgErr()
			}
			rv.CRLFiles = append(rv.CRLFiles, files...)
		case "timeout", "max_ttl":
			var s string
			if !d.AllArgs(&s) {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return nil, d.Errf("client_cert revocation %s: want a positive duration, got %q", sub, s)
			}
			if sub == "timeout" {
				rv.Timeout = caddy.Duration(dur)
			} else {
				rv.MaxTTL = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("client_cert revocation: unknown sub-directive %q", sub)
		}
	}
	return rv, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*ClientCert)(nil)
