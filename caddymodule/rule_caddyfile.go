package caddymodule

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads the rule sub-directive of healthgate. Each
// `rule NAME FILE` adds a rule, evaluated in the order given; a `rule` with
// no arguments sets what all the rules share.
//
//	rule {
//		context_headers <header>...     # request headers rules may read; default none
//		all_abstain     abstain|deny|allow   # default abstain
//		error_status    <status>        # a failed rule; default 503
//		fhir_base       <path>          # gives rules fhir.* attributes; default the handler's
//		cache_dir       <dir>|off       # compiled code; default <data dir>/healthgate/wasm-cache
//	}
//	rule <name> <file.wasm> {
//		config          <key> <value>... # repeatable; the rule reads config.<key>
//		config_json     <json object of string lists>
//		test            <vectors.json>   # must pass for the rule to load
//		memory          <size>           # per instance; default 64MiB
//		timeout         <duration>       # per evaluation; default 10ms
//		instances       <min> [<max>]    # default 1, 2×GOMAXPROCS
//		acquire_timeout <duration>       # default 50ms
//		max_input       <size>           # security context JSON; default 64KiB
//		max_result      <size>           # default 16KiB
//		max_log         <size>           # per evaluation; default 4KiB
//		upstream_headers <header>...     # obligations may set/remove these
//		claims          <claim>...       # obligations may set these
//	}
func (p *Rules) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // rule
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
		return p.unmarshalShared(d)
	case 2:
		rc := RuleConfig{Name: args[0], File: args[1]}
		for _, have := range p.Rules {
			if have.Name == rc.Name {
				return d.Errf("rule %q: configured twice", rc.Name)
			}
		}
		if err := rc.unmarshal(d); err != nil {
			return err
		}
		p.Rules = append(p.Rules, rc)
		return nil
	}
	return d.Errf("rule: want `rule <name> <file.wasm> [{…}]` or `rule {…}`, got %d arguments", len(args))
}

func (p *Rules) unmarshalShared(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "context_headers":
			hs := d.RemainingArgs()
			if len(hs) == 0 {
				return d.ArgErr()
			}
			p.ContextHeaders = append(p.ContextHeaders, hs...)
		case "all_abstain":
			if !d.AllArgs(&p.AllAbstain) {
				return d.ArgErr()
			}
			switch p.AllAbstain {
			case "abstain", "deny", "allow":
			default:
				return d.Errf("rule all_abstain %q: want abstain, deny or allow", p.AllAbstain)
			}
		case "error_status":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 400 || n > 599 {
				return d.Errf("rule error_status %q: want a status from 400 to 599", s)
			}
			p.ErrorStatus = n
		case "fhir_base":
			if !d.AllArgs(&p.FHIRBase) {
				return d.ArgErr()
			}
		case "cache_dir":
			if !d.AllArgs(&p.CacheDir) {
				return d.ArgErr()
			}
		default:
			return d.Errf("rule: unknown option %q", sub)
		}
	}
	return nil
}

func (rc *RuleConfig) unmarshal(d *caddyfile.Dispenser) error {
	size := func(sub string, dst *int) error {
		n, err := parseSize(d, fmt.Sprintf("rule %q %s", rc.Name, sub))
		if err != nil {
			return err
		}
		if n > math.MaxInt32 {
			return d.Errf("rule %q %s: %d bytes is more than a rule may have", rc.Name, sub, n)
		}
		*dst = int(n)
		return nil
	}
	duration := func(sub string, dst *caddy.Duration) error {
		var s string
		if !d.AllArgs(&s) {
			return d.ArgErr()
		}
		v, err := caddy.ParseDuration(s)
		if err != nil || v <= 0 {
			return d.Errf("rule %q %s %q: want a positive duration such as 10ms", rc.Name, sub, s)
		}
		*dst = caddy.Duration(v)
		return nil
	}
	count := func(sub, s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1024 {
			return 0, d.Errf("rule %q %s %q: want a count from 0 to 1024", rc.Name, sub, s)
		}
		return n, nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch sub := d.Val(); sub {
		case "config":
			kv := d.RemainingArgs()
			if len(kv) < 2 {
				return d.Errf("rule %q config: want `config <key> <value>...`", rc.Name)
			}
			if rc.Config == nil {
				rc.Config = map[string][]string{}
			}
			rc.Config[kv[0]] = append(rc.Config[kv[0]], kv[1:]...)
		case "config_json":
			raw := strings.Join(d.RemainingArgs(), " ")
			var m map[string][]string
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return d.Errf("rule %q config_json: want a JSON object of string lists: %v", rc.Name, err)
			}
			if rc.Config == nil {
				rc.Config = map[string][]string{}
			}
			for k, vs := range m {
				rc.Config[k] = append(rc.Config[k], vs...)
			}
		case "test":
			if !d.AllArgs(&rc.Tests) {
				return d.ArgErr()
			}
		case "memory":
			var n int
			if err = size(sub, &n); err == nil {
				rc.MemoryLimit = int64(n)
			}
		case "timeout":
			err = duration(sub, &rc.Timeout)
		case "acquire_timeout":
			err = duration(sub, &rc.AcquireTimeout)
		case "instances":
			a := d.RemainingArgs()
			if len(a) < 1 || len(a) > 2 {
				return d.Errf("rule %q instances: want `instances <min> [<max>]`", rc.Name)
			}
			if rc.MinInstances, err = count(sub, a[0]); err == nil && len(a) == 2 {
				rc.MaxInstances, err = count(sub, a[1])
			}
		case "max_input":
			err = size(sub, &rc.MaxInput)
		case "max_result":
			err = size(sub, &rc.MaxResult)
		case "max_log":
			err = size(sub, &rc.MaxLog)
		case "upstream_headers":
			hs := d.RemainingArgs()
			if len(hs) == 0 {
				return d.ArgErr()
			}
			rc.UpstreamHeaders = append(rc.UpstreamHeaders, hs...)
		case "claims":
			cs := d.RemainingArgs()
			if len(cs) == 0 {
				return d.ArgErr()
			}
			rc.Claims = append(rc.Claims, cs...)
		default:
			return d.Errf("rule %q: unknown option %q", rc.Name, sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Rules)(nil)
