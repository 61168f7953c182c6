package caddymodule

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("healthgate", parseCaddyfile)
	// Identity must be settled before anything acts on the request, like
	// basic_auth, so users need no `order` line.
	httpcaddyfile.RegisterDirectiveOrder("healthgate", httpcaddyfile.Before, "basic_auth")
}

// parseCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	healthgate {
//		realm            <name>
//		public           <paths...>
//		missing          reject|limit|ignore
//		require          <verifier...>
//		route <paths...> {
//			name     <name>
//			public
//			missing  reject|limit|ignore
//			require  <verifier...>
//			<policy> ...
//		}
//		upstream_headers {
//			device|application|user|user_name|anonymous|scopes|purpose_of_use|override <header>|off
//		}
//		strip_headers    <header...>
//		fhir_base        <path>     # default FHIR base of smart, rule, audit
//		audit { … }      # see docs/audit.md
//		<verifier> ...   # client_cert, oidc, cws, ...
//		<policy> ...     # grants, smart, rule, ...
//	}
//
// A sub-directive the handler does not know is looked up as the module
// healthgate.verifiers.<name>, then healthgate.policies.<name>, and
// unmarshalled by that module; given twice, it is unmarshalled twice into
// the same instance.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	hg := new(Handler)
	if err := hg.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return hg, nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	verifiers := newSubmodules("verifier")
	policies := newSubmodules("policy")
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch name := d.Val(); name {
		case "realm":
			if !d.AllArgs(&h.Realm) {
				return d.ArgErr()
			}
		case "public":
			paths := d.RemainingArgs()
			if len(paths) == 0 {
				return d.Errf("public: at least one path pattern required")
			}
			h.Public = append(h.Public, paths...)
		case "missing":
			if !d.AllArgs(&h.Missing) {
				return d.ArgErr()
			}
			if err := checkMissing(h.Missing); err != nil {
				return d.Errf("missing: %v", err)
			}
		case "require":
			if h.Require = append(h.Require, d.RemainingArgs()...); len(h.Require) == 0 {
				return d.Errf("require: name the verifier(s) whose credentials are required, e.g. client_cert")
			}
		case "route":
			rc, err := unmarshalRoute(d)
			if err != nil {
				return err
			}
			h.Routes = append(h.Routes, rc)
		case "upstream_headers":
			uh, err := unmarshalUpstreamHeaders(d)
			if err != nil {
				return err
			}
			h.UpstreamHeaders = uh
		case "audit":
			cfg, err := parseAudit(d)
			if err != nil {
				return err
			}
			h.Audit = cfg
		case "fhir_base":
			if !d.AllArgs(&h.FHIRBase) {
				return d.ArgErr()
			}
			if err := checkFHIRBase(h.FHIRBase); err != nil {
				return d.Err(err.Error())
			}
		case "strip_headers":
			if h.StripHeaders = append(h.StripHeaders, d.RemainingArgs()...); len(h.StripHeaders) == 0 {
				return d.ArgErr()
			}
		default:
			switch {
			case moduleExists("healthgate.verifiers." + name):
				if err := verifiers.unmarshal(d, "healthgate.verifiers."+name); err != nil {
					return err
				}
			case moduleExists("healthgate.policies." + name):
				if err := policies.unmarshal(d, "healthgate.policies."+name); err != nil {
					return err
				}
			default:
				return d.Errf("healthgate: unknown sub-directive %q (not a healthgate verifier or policy; is the module compiled in?)", name)
			}
		}
	}
	h.VerifiersRaw = verifiers.raw()
	h.PoliciesRaw = policies.raw()
	return nil
}

func unmarshalRoute(d *caddyfile.Dispenser) (*RouteConfig, error) {
	rc := &RouteConfig{Paths: d.RemainingArgs()}
	if len(rc.Paths) == 0 {
		return nil, d.Errf("route: at least one path pattern required")
	}
	policies := newSubmodules("policy")
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch name := d.Val(); name {
		case "name":
			if !d.AllArgs(&rc.Name) {
				return nil, d.ArgErr()
			}
		case "public":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			rc.Public = true
		case "missing":
			if !d.AllArgs(&rc.Missing) {
				return nil, d.ArgErr()
			}
			if err := checkMissing(rc.Missing); err != nil {
				return nil, d.Errf("route %v: missing: %v", rc.Paths, err)
			}
		case "require":
			if rc.Require = append(rc.Require, d.RemainingArgs()...); len(rc.Require) == 0 {
				return nil, d.Errf("route %v: require: name the verifier(s) whose credentials are required", rc.Paths)
			}
		default:
			if !moduleExists("healthgate.policies." + name) {
				return nil, d.Errf("route %v: unknown sub-directive %q (not a healthgate policy)", rc.Paths, name)
			}
			if err := policies.unmarshal(d, "healthgate.policies."+name); err != nil {
				return nil, err
			}
		}
	}
	rc.PoliciesRaw = policies.raw()
	return rc, nil
}

func unmarshalUpstreamHeaders(d *caddyfile.Dispenser) (*UpstreamHeaders, error) {
	uh := defaultUpstreamHeaders()
	fields := map[string]*string{
		"device": &uh.Device, "application": &uh.Application, "user": &uh.User,
		"user_name": &uh.UserName, "anonymous": &uh.Anonymous, "scopes": &uh.Scopes,
		"purpose_of_use": &uh.PurposeOfUse, "override": &uh.Override,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		f, ok := fields[d.Val()]
		if !ok {
			return nil, d.Errf("upstream_headers: unknown attribute %q", d.Val())
		}
		var name string
		if !d.AllArgs(&name) {
			return nil, d.ArgErr()
		}
		if name == "off" {
			name = ""
		}
		*f = name
	}
	return &uh, nil
}

func checkMissing(s string) error {
	if !slices.Contains([]string{"reject", "limit", "ignore"}, s) {
		return fmt.Errorf("unknown mode %q (want reject, limit or ignore)", s)
	}
	return nil
}

func moduleExists(id string) bool {
	_, err := caddy.GetModule(id)
	return err == nil
}

// submodules collects sub-directive modules in first-seen order, one
// instance per name.
type submodules struct {
	inlineKey string
	order     []string
	byID      map[string]caddyfile.Unmarshaler
}

func newSubmodules(inlineKey string) *submodules {
	return &submodules{inlineKey: inlineKey, byID: make(map[string]caddyfile.Unmarshaler)}
}

func (s *submodules) unmarshal(d *caddyfile.Dispenser, id string) error {
	u, ok := s.byID[id]
	if !ok {
		info, err := caddy.GetModule(id)
		if err != nil {
			return d.Err(err.Error())
		}
		if u, ok = info.New().(caddyfile.Unmarshaler); !ok {
			return d.Errf("module %s cannot be configured from a Caddyfile", id)
		}
		s.byID[id] = u
		s.order = append(s.order, id)
	}
	return u.UnmarshalCaddyfile(d.NewFromNextSegment())
}

func (s *submodules) raw() []json.RawMessage {
	var out []json.RawMessage
	for _, id := range s.order {
		name := caddy.ModuleID(id).Name()
		out = append(out, caddyconfig.JSONModuleObject(s.byID[id], s.inlineKey, name, nil))
	}
	return out
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
