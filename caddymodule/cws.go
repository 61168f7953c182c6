package caddymodule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/healthgate/healthgate/policy/body"
	"github.com/healthgate/healthgate/policy/cws"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func init() { caddy.RegisterModule(CWS{}) }

// cwsKeyHistories holds one cws.History per key source for the life of the
// process, so that a reload that alters a user's key is refused: a config
// being loaded takes a reference before the old one lets go of it.
var cwsKeyHistories = caddy.NewUsagePool()

// keyHistory makes a cws.History a pool value.
type keyHistory struct{ *cws.History }

func (keyHistory) Destruct() error { return nil }

// CWS verifies CorEMR web-service request signatures,
//
//	Authorization: CWS-SHA256 Access=<user>, Signature=<base64 RSA signature>
//
// over the request body (POST, PUT, PATCH) or the empty string (GET, HEAD,
// DELETE), against the key user's public key. On success the principal has
// a facet (kind Facet, default user) whose ID is the key user, proven by
// "cws". The upstream receives exactly the verified body.
//
// Keys are immutable: a reload that gives an existing user another key
// fails, and the running config, with the old key, stays in force.
//
// Refusals: 401 with a CWS-SHA256 challenge, 413 for a body over MaxBody;
// the reason codes are cws_* (see docs/cws.md).
type CWS struct {
	// Dir is a directory of PEM public keys, one per key user, named
	// <user>.pem. Dir, KeysFile or both are required.
	Dir string `json:"dir,omitempty"`
	// KeysFile lists key users and keys: a user name on a line, then its
	// PEM block. User names are unique across Dir and KeysFile.
	KeysFile string `json:"keys_file,omitempty"`
	// AllowSHA1 accepts CWS-SHA1 from every user. SHA-1 is broken for
	// collisions: leave it off unless CWS V1 clients remain. Default: false.
	AllowSHA1 bool `json:"allow_sha1,omitempty"`
	// SHA1Users accepts CWS-SHA1 from these key users only, for a
	// migration. Default: none.
	SHA1Users []string `json:"sha1_users,omitempty"`
	// MaxBody is the largest request body accepted, in bytes; a larger one
	// is answered 413. Default: 1 GiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// MemoryBody is how many bytes of a body are held in memory; the rest
	// is spooled to a temporary file, removed when the request ends.
	// Default: 1 MiB.
	MemoryBody int64 `json:"memory_body,omitempty"`
	// TempDir is where bodies over MemoryBody are spooled. Default: the
	// system's temporary directory.
	TempDir string `json:"temp_dir,omitempty"`
	// ReplayWindow turns on replay protection: a Date header within this
	// window is required, and a signature is accepted once per window.
	// Default: 0, off (CorEMR clients need not send Date).
	ReplayWindow caddy.Duration `json:"replay_window,omitempty"`
	// ReplayCache is how many signatures replay protection holds; when
	// it is full of live ones, requests are refused with 503. Default:
	// 100000 (about 10 MB).
	ReplayCache int `json:"replay_cache,omitempty"`
	// Facet is the kind of facet the key user becomes: user, application
	// or device. Default: user.
	Facet string `json:"facet,omitempty"`

	verifier *cws.Verifier
	poolKey  string
}

// CaddyModule returns the Caddy module information.
func (CWS) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "healthgate.verifiers.cws",
		New: func() caddy.Module { return new(CWS) },
	}
}

// Priority places CWS after the transport credentials (client_cert, 0).
func (*CWS) Priority() int { return 30 }

// Provision loads the keys, checks them against the keys this key source
// held before, and builds the verifier.
func (c *CWS) Provision(ctx caddy.Context) error {
	logger := ctx.Logger()
	if c.MaxBody < 0 || c.MemoryBody < 0 {
		return fmt.Errorf("cws max_body %d, memory_body %d: sizes cannot be negative", c.MaxBody, c.MemoryBody)
	}
	repl := caddy.NewReplacer()
	src, err := c.sources(repl)
	if err != nil {
		return err
	}
	reg, err := cws.Load(src)
	if err != nil {
		return fmt.Errorf("loading cws keys: %w", err)
	}

	c.poolKey = "cws\x00" + src.Dir + "\x00" + src.File
	h, _, err := cwsKeyHistories.LoadOrNew(c.poolKey, func() (caddy.Destructor, error) {
		return keyHistory{cws.NewHistory()}, nil
	})
	if err != nil {
		c.poolKey = ""
		return fmt.Errorf("cws key history: %w", err)
	}
	if err := h.(keyHistory).Admit(reg); err != nil {
		return fmt.Errorf("cws %s: refusing the new keys: %w", src, err)
	}

	cfg := cws.Config{
		Keys:      reg,
		AllowSHA1: c.AllowSHA1,
		SHA1Users: c.SHA1Users,
		Body: body.Options{
			Max:    cmp.Or(c.MaxBody, body.DefaultMax),
			Memory: cmp.Or(c.MemoryBody, body.DefaultMemory),
			Dir:    repl.ReplaceKnown(c.TempDir, ""),
		},
		Facet: identity.Kind(cmp.Or(c.Facet, string(identity.User))),
	}
	if w := time.Duration(c.ReplayWindow); w != 0 {
		if cfg.Replay, err = cws.NewReplayGuard(w, c.ReplayCache); err != nil {
			return fmt.Errorf("cws replay_window: %w", err)
		}
	}
	if c.verifier, err = cws.New(cfg); err != nil {
		return fmt.Errorf("cws: %w", err)
	}

	logger.Info("cws keys loaded", zap.String("source", src.String()), zap.Int("users", reg.Len()))
	if c.AllowSHA1 {
		logger.Warn("cws: CWS-SHA1 accepted from every key user; SHA-1 is broken for collisions, enable it only for named users during a migration")
	} else if len(c.SHA1Users) > 0 {
		logger.Warn("cws: CWS-SHA1 accepted from some key users; SHA-1 is broken for collisions", zap.Strings("users", c.SHA1Users))
	}
	return nil
}

// sources resolves placeholders and makes the paths absolute, so the same
// key source has one history whatever the working directory.
func (c *CWS) sources(repl *caddy.Replacer) (cws.Sources, error) {
	var src cws.Sources
	for _, p := range []struct {
		in  string
		out *string
	}{{c.Dir, &src.Dir}, {c.KeysFile, &src.File}} {
		if p.in == "" {
			continue
		}
		abs, err := filepath.Abs(repl.ReplaceKnown(p.in, ""))
		if err != nil {
			return src, fmt.Errorf("cws key path %q: %w", p.in, err)
		}
		*p.out = abs
	}
	if src.Dir == "" && src.File == "" {
		return src, errors.New("cws: no keys: give a key directory (cws <dir>) or a keys_file")
	}
	return src, nil
}

// Verify implements pipeline.Verifier.
func (c *CWS) Verify(ctx context.Context, req *pipeline.Request) error {
	return c.verifier.Verify(ctx, req)
}

// Challenge implements pipeline.Challenger.
func (c *CWS) Challenge(realm string) string { return c.verifier.Challenge(realm) }

// Cleanup lets go of the key history. It works after a failed Provision.
func (c *CWS) Cleanup() error {
	if c.poolKey == "" {
		return nil
	}
	_, err := cwsKeyHistories.Delete(c.poolKey)
	c.poolKey = ""
	return err
}

// Interface guards
var (
	_ caddy.Provisioner   = (*CWS)(nil)
	_ caddy.CleanerUpper  = (*CWS)(nil)
	_ pipeline.Verifier   = (*CWS)(nil)
	_ pipeline.Challenger = (*CWS)(nil)
)
