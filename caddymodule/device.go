package caddymodule

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/healthgate/healthgate/policy/grants"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(DeviceBasic{}) }

// DeviceBasic verifies SanteDB device credentials,
//
//	X-Device-Authorization: BASIC base64(<device id>:<secret>)
//
// (and, with FromAuthorization, Authorization: Basic on the token endpoint)
// against bcrypt hashes. On success the principal has a device facet proven
// by "basic". It runs after the client certificate (priority 10), so a
// device named by both must be the same.
//
// Refusals: 401 device_credentials_malformed, device_credentials_invalid or
// device_conflict; on the token endpoint with an RFC 6749 invalid_client
// body.
type DeviceBasic struct {
	// Devices maps device ids to bcrypt hashes of their secrets, as
	// `caddy hash-password` prints them (base64 of the hash also works).
	// {env.*} placeholders are resolved. Required.
	Devices map[string]string `json:"devices,omitempty"`
	// FromAuthorization also reads Authorization: Basic on the token
	// endpoint as device credentials, as newer SanteDB clients send
	// them. Default: false.
	FromAuthorization bool `json:"from_authorization,omitempty"`
	// TokenPaths are the token endpoint paths. Default: /auth/oauth2_token.
	TokenPaths []string `json:"token_paths,omitempty"`

	verifier *grants.DeviceVerifier
}

// CaddyModule returns the Caddy module information.
func (DeviceBasic) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "healthgate.verifiers.device_basic", New: func() caddy.Module { return new(DeviceBasic) }}
}

// Priority runs device credentials after the client certificate (0).
func (*DeviceBasic) Priority() int { return 10 }

// Provision builds the device registry.
func (d *DeviceBasic) Provision(caddy.Context) error {
	if len(d.Devices) == 0 {
		return fmt.Errorf("device_basic: no devices configured")
	}
	repl := caddy.NewReplacer()
	hashes := make(map[string]string, len(d.Devices))
	for id, h := range d.Devices {
		hashes[id] = repl.ReplaceKnown(h, "")
	}
	reg, err := grants.NewDeviceRegistry(hashes)
	if err != nil {
		return fmt.Errorf("device_basic: %w", err)
	}
	d.verifier = &grants.DeviceVerifier{Registry: reg, FromAuthorization: d.FromAuthorization, TokenPaths: d.TokenPaths}
	return nil
}

// Verify implements pipeline.Verifier.
func (d *DeviceBasic) Verify(ctx context.Context, req *pipeline.Request) error {
	return d.verifier.Verify(ctx, req)
}

// UnmarshalCaddyfile reads the device_basic sub-directive of healthgate:
//
//	device_basic {
//		device             <id> <bcrypt hash>   # repeatable
//		from_authorization                      # also Authorization: Basic on the token endpoint
//		token_path         <path...>            # default /auth/oauth2_token
//	}
func (d *DeviceBasic) UnmarshalCaddyfile(disp *caddyfile.Dispenser) error {
	disp.Next() // device_basic
	if disp.NextArg() {
		return disp.ArgErr()
	}
	for nesting := disp.Nesting(); disp.NextBlock(nesting); {
		switch sub := disp.Val(); sub {
		case "device":
			var id, hash string
			if !disp.AllArgs(&id, &hash) {
				return disp.Errf("device_basic device: want <id> <bcrypt hash>")
			}
			if _, dup := d.Devices[id]; dup {
				return disp.Errf("device_basic device %q: given twice", id)
			}
			if d.Devices == nil {
				d.Devices = make(map[string]string)
			}
			d.Devices[id] = hash
		case "from_authorization":
			if disp.NextArg() {
				return disp.ArgErr()
			}
			d.FromAuthorization = true
		case "token_path":
			paths := disp.RemainingArgs()
			if len(paths) == 0 {
				return disp.ArgErr()
			}
			d.TokenPaths = append(d.TokenPaths, paths...)
		default:
			return disp.Errf("device_basic: unknown option %q", sub)
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner     = (*DeviceBasic)(nil)
	_ pipeline.Verifier     = (*DeviceBasic)(nil)
	_ caddyfile.Unmarshaler = (*DeviceBasic)(nil)
)
