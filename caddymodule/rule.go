package caddymodule

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/healthgate/healthgate/policy/clientcert"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
)

func init() { caddy.RegisterModule(Rules{}) }

// wasmHosts and wasmRules hold compiled rules for the life of the process:
// a reload whose rule is unchanged (same module bytes, same settings) takes
// the rule with its warm instances as it is, so nothing is compiled or
// instantiated; a changed rule compiles through the shared compilation
// cache. Entries go when no loaded config references them.
var (
	wasmHosts = caddy.NewUsagePool()
	wasmRules = caddy.NewUsagePool()
)

type pooledHost struct{ *wasmfilter.Host }

func (h pooledHost) Destruct() error { return h.Close(context.Background()) }

type pooledRule struct{ *wasmfilter.Rule }

func (r pooledRule) Destruct() error { return r.Close() }

// Rules is the policy healthgate.policies.rule: site rules compiled to
// WebAssembly (ABI v1, see docs/rules.md), evaluated in order after the
// built-in policies over the verified security context. The first deny
// wins, abstentions are skipped, an allow applies its obligations (upstream
// headers, claims for later rules) before the next rule runs, and a rule
// that fails (trap, timeout, memory, ABI violation, no free instance) refuses
// the request with ErrorStatus, never allows it.
//
// Refusals: the rule's status (default 403) and code (default rule_denied);
// rule_failed (ErrorStatus, default 503); rules_abstained (403, when
// AllAbstain is deny); rule_input_too_large (400).
type Rules struct {
	// Rules are evaluated in this order.
	Rules []RuleConfig `json:"rules,omitempty"`
	// ContextHeaders are the request headers rules may read
	// (request.header.<name>). Authorization, Proxy-Authorization and
	// Cookie are refused. Default: none.
	ContextHeaders []string `json:"context_headers,omitempty"`
	// AllAbstain is the decision when every rule abstains: abstain (leave
	// it to the other policies), deny or allow. Default: abstain.
	AllAbstain string `json:"all_abstain,omitempty"`
	// ErrorStatus answers a failed evaluation, 400 to 599. Default: 503.
	ErrorStatus int `json:"error_status,omitempty"`
	// FHIRBase is the path of the FHIR base ("/fhir"); requests below it
	// give rules the fhir.* attributes. Default: the healthgate handler's
	// fhir_base; with neither, no FHIR facts.
	FHIRBase string `json:"fhir_base,omitempty"`
	// CacheDir holds wazero's compiled code across restarts; "off" keeps
	// it in memory only. Default: healthgate/wasm-cache in Caddy's data
	// directory.
	CacheDir string `json:"cache_dir,omitempty"`

	set      *wasmfilter.Set
	hostKey  string
	ruleKeys []string
	logger   *zap.Logger
	use      *ruleUse
}

// ruleUse tells Cleanup when a config's servers are done with its rules.
type ruleUse struct {
	inflight atomic.Int64
	lastUse  atomic.Int64 // unix ns
}

// ruleLinger is how long a cleaned-up config keeps its rules after its last
// evaluation. On a reload Caddy cleans up the old config while the old
// servers still finish their requests (caddyhttp's App.Stop does not wait
// for the shutdown), and closing the rules at once would refuse those
// requests with 503.
const ruleLinger = 2 * time.Second

// RuleConfig is one rule.
type RuleConfig struct {
	// Name identifies the rule in decisions, logs and metrics:
	// [a-z0-9_-], unique.
	Name string `json:"name"`
	// File is the rule's .wasm module (ABI v1), at most 32 MiB.
	File string `json:"file"`
	// Config is handed to the rule (get_config, config.<key>).
	Config map[string][]string `json:"config,omitempty"`
	// Tests is a JSON file of test vectors the rule must pass to load
	// (see wasmfilter.Vector). Default: none.
	Tests string `json:"tests,omitempty"`
	// MemoryLimit caps each instance's linear memory, in bytes, rounded
	// down to 64 KiB pages. Default: 64 MiB.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// Timeout caps one evaluation. Default: 10ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// AcquireTimeout is how long a request waits for a free instance.
	// Default: 50ms.
	AcquireTimeout caddy.Duration `json:"acquire_timeout,omitempty"`
	// MinInstances are kept warm. Default: 1.
	MinInstances int `json:"min_instances,omitempty"`
	// MaxInstances caps the instances (the rule's concurrency). Default:
	// 2 × GOMAXPROCS.
	MaxInstances int `json:"max_instances,omitempty"`
	// MaxInput caps the security context JSON, in bytes. Default: 64 KiB.
	MaxInput int `json:"max_input,omitempty"`
	// MaxResult caps the result the rule sets, in bytes. Default: 16 KiB.
	MaxResult int `json:"max_result,omitempty"`
	// MaxLog caps what one evaluation logs, in bytes. Default: 4 KiB.
	MaxLog int `json:"max_log,omitempty"`
	// UpstreamHeaders are the upstream request headers the rule's
	// obligations may set or remove. Authorization, hop-by-hop,
	// forwarded and identity headers, and names with an underscore, are
	// refused. Default: none.
	UpstreamHeaders []string `json:"upstream_headers,omitempty"`
	// Claims are the claims the rule's obligations may set. Default: none.
	Claims []string `json:"claims,omitempty"`
}

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Priority runs site rules after the built-in policies, whatever their
// order in the Caddyfile: rules refine what grants and scopes allowed.
func (*Rules) Priority() int { return 100 }

// CaddyModule returns the Caddy module information.
func (Rules) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "healthgate.policies.rule", New: func() caddy.Module { return new(Rules) }}
}

// Provision loads every rule (or takes it from the pool of loaded rules),
// runs its test vectors and builds the rule set.
func (p *Rules) Provision(ctx caddy.Context) error {
	if len(p.Rules) == 0 {
		return errors.New("rule: no rules configured (rule <name> <file.wasm>)")
	}
	p.logger, p.use = ctx.Logger(), new(ruleUse)
	set := &wasmfilter.Set{ErrorStatus: p.ErrorStatus, Logger: p.logger}
	switch p.AllAbstain {
	case "", "abstain":
	case "deny":
		set.AllAbstain = pipeline.Deny
	case "allow":
		set.AllAbstain = pipeline.Allow
	default:
		return fmt.Errorf("rule all_abstain %q: want abstain, deny or allow", p.AllAbstain)
	}
	if p.ErrorStatus != 0 && (p.ErrorStatus < 400 || p.ErrorStatus > 599) {
		return fmt.Errorf("rule error_status %d: want a status from 400 to 599", p.ErrorStatus)
	}
	for _, h := range p.ContextHeaders {
		if err := wasmfilter.CheckContextHeader(h); err != nil {
			return fmt.Errorf("rule context_headers %q: %w", h, err)
		}
		set.Headers = append(set.Headers, strings.ToLower(h))
	}
	if p.FHIRBase != "" && !strings.HasPrefix(p.FHIRBase, "/") {
		return fmt.Errorf("rule fhir_base %q: want a path starting with /", p.FHIRBase)
	}
	// Always set: with no fhir_base here the handler's, if any, applies
	// per request ("/" stays the root, not "unset").
	set.FHIR = wasmfilter.FHIRFacter(p.FHIRBase)
	if obs, err := observer(ctx); err == nil {
		set.Observer = obs
	} else {
		ctx.Logger().Warn("rule metrics unavailable", zap.Error(err))
	}

	host, err := p.loadHost(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range p.Rules {
		rc := &p.Rules[i]
		if !ruleName.MatchString(rc.Name) {
			return fmt.Errorf("rule %q: a name is 1 to 64 of [a-z0-9_-], starting with a letter or digit", rc.Name)
		}
		if seen[rc.Name] {
			return fmt.Errorf("rule %q: configured twice", rc.Name)
		}
		seen[rc.Name] = true
		r, err := p.loadRule(ctx, host, rc)
		if err != nil {
			return err
		}
		set.Rules = append(set.Rules, r)
	}
	p.set = set
	return nil
}

// loadHost takes the process-wide compilation cache for CacheDir.
func (p *Rules) loadHost(ctx caddy.Context) (*wasmfilter.Host, error) {
	dir := p.CacheDir
	switch dir {
	case "off":
		dir = ""
	case "":
		dir = filepath.Join(caddy.AppDataDir(), "healthgate", "wasm-cache")
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			ctx.Logger().Warn("rule cache_dir unusable; caching compiled rules in memory only", zap.String("dir", dir), zap.Error(err))
			dir = ""
		}
	}
	key := "host\x00" + dir
	v, _, err := wasmHosts.LoadOrNew(key, func() (caddy.Destructor, error) {
		h, err := wasmfilter.NewHost(dir)
		return pooledHost{h}, err
	})
	if err != nil {
		return nil, fmt.Errorf("rule cache_dir %q: %w", dir, err)
	}
	p.hostKey = key
	return v.(pooledHost).Host, nil
}

// loadRule reads the module, takes or builds the rule, and runs its tests.
func (p *Rules) loadRule(ctx caddy.Context, host *wasmfilter.Host, rc *RuleConfig) (*wasmfilter.Rule, error) {
	opts, err := rc.options()
	if err != nil {
		return nil, err
	}
	wasm, err := readModule(rc.File)
	if err != nil {
		return nil, fmt.Errorf("rule %q file: %w", rc.Name, err)
	}
	key, err := rc.poolKey(wasm, p.hostKey)
	if err != nil {
		return nil, err
	}
	v, loaded, err := wasmRules.LoadOrNew(key, func() (caddy.Destructor, error) {
		opts.Logger = caddy.Log().Named("healthgate.rule") // outlives this config's loggers
		r, err := host.NewRule(ctx, wasm, opts)
		return pooledRule{r}, err
	})
	if err != nil {
		return nil, fmt.Errorf("rule %q (%s): %w", rc.Name, rc.File, err)
	}
	p.ruleKeys = append(p.ruleKeys, key)
	r := v.(pooledRule).Rule
	if rc.Tests != "" {
		if err := runTests(r, rc.Tests); err != nil {
			return nil, fmt.Errorf("rule %q tests %s: %w", rc.Name, rc.Tests, err)
		}
	}
	if c := ctx.Logger().Check(zap.DebugLevel, "rule loaded"); c != nil {
		c.Write(zap.String("rule", rc.Name), zap.Bool("reused", loaded))
	}
	return r, nil
}

// options turns the config into wasmfilter options, checking each value.
func (rc *RuleConfig) options() (wasmfilter.Options, error) {
	for _, h := range rc.UpstreamHeaders {
		if err := wasmfilter.CheckObligationHeader(h, clientcert.ForwardedHeaders()); err != nil {
			return wasmfilter.Options{}, fmt.Errorf("rule %q upstream_headers %q: %w", rc.Name, h, err)
		}
	}
	if rc.MemoryLimit < 0 || rc.MemoryLimit > 0 && rc.MemoryLimit < wasmfilter.PageSize {
		return wasmfilter.Options{}, fmt.Errorf("rule %q memory %d: want at least 64KiB", rc.Name, rc.MemoryLimit)
	}
	limits := wasmfilter.Limits{
		MemoryPages:    uint32(min(rc.MemoryLimit/wasmfilter.PageSize, 1<<20)),
		Timeout:        time.Duration(rc.Timeout),
		AcquireTimeout: time.Duration(rc.AcquireTimeout),
		MaxInput:       rc.MaxInput,
		MaxResult:      rc.MaxResult,
		MaxLog:         rc.MaxLog,
		MinInstances:   rc.MinInstances,
		MaxInstances:   rc.MaxInstances,
	}
	if err := limits.Validate(); err != nil {
		return wasmfilter.Options{}, fmt.Errorf("rule %q: %w", rc.Name, err)
	}
	return wasmfilter.Options{
		Name:        rc.Name,
		Config:      rc.Config,
		Limits:      limits,
		Obligations: wasmfilter.ObligationPolicy{Headers: rc.UpstreamHeaders, Claims: rc.Claims},
	}, nil
}

// poolKey identifies a loaded rule: the module's hash, every setting but the
// file's name and tests, and the compilation cache.
func (rc *RuleConfig) poolKey(wasm []byte, hostKey string) (string, error) {
	settings := *rc
	settings.File, settings.Tests = "", ""
	b, err := json.Marshal(settings)
	if err != nil {
		return "", fmt.Errorf("rule %q: %w", rc.Name, err)
	}
	mod, cfg := sha256.Sum256(wasm), sha256.Sum256(append(b, hostKey...))
	return "rule\x00" + hex.EncodeToString(mod[:]) + "\x00" + hex.EncodeToString(cfg[:]), nil
}

// readModule reads a .wasm file, refusing one over the size cap.
func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > wasmfilter.MaxModuleSize {
		return nil, fmt.Errorf("%s is over the %d-byte cap", path, wasmfilter.MaxModuleSize)
	}
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + bytes.MinRead) // one read, no doubling
	// The limit still applies: the file may grow while read.
	if _, err := b.ReadFrom(io.LimitReader(f, wasmfilter.MaxModuleSize+1)); err != nil {
		return nil, err
	}
	if b.Len() > wasmfilter.MaxModuleSize {
		return nil, fmt.Errorf("%s is over the %d-byte cap", path, wasmfilter.MaxModuleSize)
	}
	return b.Bytes(), nil
}

// runTests runs a vectors file through the rule.
func runTests(r *wasmfilter.Rule, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	vs, err := wasmfilter.ParseVectors(b)
	if err != nil {
		return err
	}
	return r.CheckVectors(vs)
}

// Decide implements pipeline.Policy.
func (p *Rules) Decide(ctx context.Context, req *pipeline.Request) pipeline.Decision {
	p.use.inflight.Add(1)
	defer func() {
		p.use.lastUse.Store(time.Now().UnixNano())
		p.use.inflight.Add(-1)
	}()
	return p.set.Decide(ctx, req)
}

// Cleanup lets go of the rules and the cache once the config's requests are
// done (no evaluation for ruleLinger); the last config that uses a rule
// closes it. After a failed Provision it lets go at once.
func (p *Rules) Cleanup() error {
	if p.set == nil {
		return p.release()
	}
	u := p.use
	u.lastUse.Store(time.Now().UnixNano())
	go func() {
		for u.inflight.Load() > 0 || time.Since(time.Unix(0, u.lastUse.Load())) < ruleLinger {
			time.Sleep(ruleLinger / 8)
		}
		if err := p.release(); err != nil {
			p.logger.Error("releasing rules", zap.Error(err))
		}
	}()
	return nil
}

// release drops this config's references to its rules and cache.
func (p *Rules) release() error {
	var errs []error
	for _, k := range slices.Backward(p.ruleKeys) {
		if _, err := wasmRules.Delete(k); err != nil {
			errs = append(errs, err)
		}
	}
	p.ruleKeys = nil
	if p.hostKey != "" {
		if _, err := wasmHosts.Delete(p.hostKey); err != nil {
			errs = append(errs, err)
		}
		p.hostKey = ""
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleaning up rules: %w", errors.Join(errs...))
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner  = (*Rules)(nil)
	_ caddy.CleanerUpper = (*Rules)(nil)
	_ pipeline.Policy    = (*Rules)(nil)
)
