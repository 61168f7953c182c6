package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/internal/devpki"
	"github.com/healthgate/healthgate/tests/harness"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

const (
	ruleIssuer = "https://idp.hospital.test"
	// ruleSecret signs the test's HS256 tokens; the gateway reads it from
	// the environment.
	ruleSecret = "rules-e2e-hs256-secret-of-32-bytes-or-more"
)

// ruleFiles builds the example rules and fixtures from source into a test
// directory: the WAT and Go rules of wasmfilter/examples, a trap fixture and
// an obligations fixture.
type ruleFiles struct {
	btg, nurse, hours, trap, tag  string
	btgTests, nurseTests, badTest string
}

func buildRules(t *testing.T) ruleFiles {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	wf := func(p ...string) string { return filepath.Join(append([]string{root, "wasmfilter"}, p...)...) }
	return ruleFiles{
		btg:        wasmtest.WriteFile(t, "btg.wasm", wasmtest.WAT(t, wf("examples", "breakglass_wat", "breakglass.wat"))),
		nurse:      wasmtest.WriteFile(t, "nurse.wasm", wasmtest.Go(t, wf("examples", "nurse"))),
		hours:      wasmtest.WriteFile(t, "hours.wasm", wasmtest.Go(t, wf("examples", "hours"))),
		trap:       wasmtest.WriteFile(t, "trap.wasm", wasmtest.WAT(t, wf("testdata", "trap.wat"))),
		tag:        wasmtest.WriteFile(t, "tag.wasm", wasmtest.WAT(t, wf("testdata", "forbidden_header.wat"))),
		btgTests:   wf("examples", "breakglass", "vectors.json"),
		nurseTests: wf("examples", "nurse", "vectors.json"),
		badTest: wasmtest.WriteFile(t, "bad.json",
			[]byte(`[{"name":"an override without a purpose is allowed","input":{"principal":{"override":true}},"want":"allow"}]`)),
	}
}

// rulesBlock is a healthgate block with a device certificate and HS256
// bearer tokens as credentials, break-the-glass, and the rules in order:
// break-the-glass (WAT), nurse (Go), a LOCUM role never allowed (Go), a
// rule that traps on the claim "fail", and one that allows with
// obligations.
func rulesBlock(pki *harness.PKI, f ruleFiles, hoursSpan string) string {
	return fmt.Sprintf(`healthgate {
		client_cert {
			trust_pool file %q
			map subject_cn * device {cn}
		}
		oidc %s {
			audience fhir-api
			hs256_secret {env.HG_RULE_SECRET}
		}
		break_glass {
			purposes EMERG ETREAT
		}
		rule {
			fhir_base /fhir
			context_headers x-request-id
		}
		rule btg %q {
			config purpose_of_use EMERG
			test %q
		}
		rule nurse %q {
			test %q
			timeout 1s
		}
		rule locum_hours %q {
			config role LOCUM
			config hours %s
			timeout 1s
		}
		rule trap %q
		rule tag %q {
			upstream_headers X-Rule-Org X-Debug
			claims rule_checked
		}
	}`, pki.CAFile, ruleIssuer, f.btg, f.btgTests, f.nurse, f.nurseTests, f.hours, hoursSpan, f.trap, f.tag)
}

// bearer mints an HS256 token of the test issuer with the given claims.
func bearer(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(ruleSecret)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	all := map[string]any{"iss": ruleIssuer, "aud": "fhir-api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		all[k] = v
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + s
}

type ruleFixture struct {
	pki    *harness.PKI
	up     *harness.Upstream
	gw     *harness.Gateway
	files  ruleFiles
	client *http.Client
	cfg    func(hours string) harness.Config
}

func newRuleFixture(t *testing.T) *ruleFixture {
	t.Helper()
	f := &ruleFixture{pki: harness.NewPKI(t), up: harness.NewUpstream(t), files: buildRules(t)}
	srv := certServer(t, f.pki)
	device := f.pki.Issue(t, devpki.Options{CommonName: "ward-tablet-7"})
	f.cfg = func(hours string) harness.Config {
		return harness.Config{
			Global:    "servers {\n\t\tstrict_sni_host insecure_off\n\t}",
			Env:       []string{"HG_RULE_SECRET=" + ruleSecret},
			Caddyfile: mtlsSite("localhost", srv, f.up, rulesBlock(f.pki, f.files, hours)),
		}
	}
	f.gw = harness.Start(t, f.cfg("00:00-00:00"))
	f.client = hostClient(f.pki, f.gw.HTTPSPort, "localhost", device.TLS)
	return f
}

func (f *ruleFixture) send(t *testing.T, method, path string, hdr http.Header) (int, string) {
	t.Helper()
	status, body, err := f.try(method, path, hdr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, body
}

// try sends one request; it is safe to call from any goroutine.
func (f *ruleFixture) try(method, path string, hdr http.Header) (int, string, error) {
	req, err := http.NewRequest(method, "https://localhost:"+fmt.Sprint(f.gw.HTTPSPort)+path, nil)
	if err != nil {
		return 0, "", err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestWASMRulesThroughTheGateway(t *testing.T) {
	f := newRuleFixture(t)
	nurse := bearer(t, map[string]any{"sub": "nurse-17", "role": "NURSE", "org": "org-42"})
	physician := bearer(t, map[string]any{"sub": "dr-who", "role": "PHYSICIAN", "org": "org-42"})
	override := bearer(t, map[string]any{"sub": "dr-who", "role": "PHYSICIAN", "isOverride": true})
	locum := bearer(t, map[string]any{"sub": "locum-3", "role": "LOCUM"})
	failing := bearer(t, map[string]any{"sub": "dr-bug", "role": "PHYSICIAN", "fail": "yes"})
	h := func(kv ...string) http.Header {
		hdr := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hdr.Add(kv[i], kv[i+1])
		}
		return hdr
	}
	tests := []struct {
		name   string
		method string
		path   string
		hdr    http.Header
		status int
		reason string
	}{
		{"a nurse searching patients of her organisation is let through", "GET", "/fhir/Patient?organization=org-42",
			h("Authorization", nurse, "X-Debug", "1"), 200, ""},
		{"a nurse searching another organisation's patients is refused by the nurse rule", "GET", "/fhir/Patient?organization=org-7",
			h("Authorization", nurse), 403, "nurse_own_organization"},
		{"a nurse reading a patient by id is refused by the nurse rule", "GET", "/fhir/Patient/123",
			h("Authorization", nurse), 403, "nurse_own_organization"},
		{"a nurse deleting a patient is refused by the nurse rule", "DELETE", "/fhir/Patient/123",
			h("Authorization", nurse), 403, "nurse_read_only"},
		{"a physician is none of the nurse rule's business", "GET", "/fhir/Patient/123",
			h("Authorization", physician), 200, ""},
		{"a locum outside the configured hours is refused by the hours rule", "GET", "/fhir/Patient/123",
			h("Authorization", locum), 403, "outside_hours"},
		{"break-the-glass for EMERG passes the built-in policy and the rule", "GET", "/fhir/Patient/123",
			h("Authorization", override, "X-SanteDBClient-Claim", "PolicyOverride=1;PurposeOfUse=EMERG"), 200, ""},
		{"break-the-glass for ETREAT passes the built-in policy but not the site rule", "GET", "/fhir/Patient/123",
			h("Authorization", override, "X-SanteDBClient-Claim", "PolicyOverride=1;PurposeOfUse=ETREAT"), 403, "purpose_of_use_required"},
		{"a rule that traps refuses with 503 and a generic reason", "GET", "/fhir/Patient/123",
			h("Authorization", failing), 503, "rule_failed"},
		{"the next request after the trap is served normally", "GET", "/fhir/Patient/123",
			h("Authorization", physician), 200, ""},
		{"the device certificate alone passes: every rule abstains", "GET", "/fhir/Patient/123", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.up.Count()
			status, body := f.send(t, tt.method, tt.path, tt.hdr)
			if status != tt.status || (tt.reason != "" && body != tt.reason) {
				t.Fatalf("got %d %q, want %d %q\n%s", status, body, tt.status, tt.reason, f.gw.Logs())
			}
			if reached := f.up.Count() > before; reached != (status == 200) {
				t.Errorf("upstream reached: %v with status %d", reached, status)
			}
		})
	}
	t.Run("an allowing rule's obligations reach the upstream and its forbidden ones never do", func(t *testing.T) {
		if status, body := f.send(t, "GET", "/fhir/Patient?organization=org-42", h("Authorization", nurse, "X-Debug", "1")); status != 200 {
			t.Fatalf("got %d %q", status, body)
		}
		got := f.up.Last().Header
		want := map[string]string{"X-Rule-Org": "org-42", "X-Debug": "", "X-Healthgate-Device": "ward-tablet-7", "X-Healthgate-User": "nurse-17"}
		for name, v := range want {
			if got.Get(name) != v {
				t.Errorf("upstream %s = %q, want %q", name, got.Get(name), v)
			}
		}
	})
	t.Run("evaluations are counted by rule and result on the metrics endpoint", func(t *testing.T) {
		m := f.gw.Admin(t, "/metrics")
		for _, series := range []string{
			`healthgate_wasm_evaluations_total{result="error",rule="trap"}`,
			`healthgate_wasm_evaluations_total{result="deny",rule="nurse"}`,
			`healthgate_wasm_evaluations_total{result="allow",rule="btg"}`,
			`healthgate_wasm_evaluations_total{result="abstain",rule="locum_hours"}`,
		} {
			if !strings.Contains(m, series) {
				t.Errorf("metrics lack %s", series)
			}
		}
	})
	t.Run("the failure detail is logged, never sent", func(t *testing.T) {
		_, body := f.send(t, "GET", "/fhir/Patient/1", h("Authorization", failing))
		if strings.Contains(body, "unreachable") {
			t.Errorf("body %q carries the trap detail", body)
		}
		if !strings.Contains(f.gw.Logs(), "unreachable") {
			t.Errorf("the log does not carry the trap detail")
		}
	})
}

// Parallel requests with a reload in the middle: none fails, unchanged
// rules are reused, and the changed rule's new config applies after it.
func TestWASMRulesSurviveAReloadUnderLoad(t *testing.T) {
	f := newRuleFixture(t)
	physician := bearer(t, map[string]any{"sub": "dr-who", "role": "PHYSICIAN"})
	locum := bearer(t, map[string]any{"sub": "locum-3", "role": "LOCUM"})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// A connection the old server closes during the
				// reload is retried, as clients do; a refusal is not.
				var status int
				var body string
				var err error
				for range 3 {
					if status, body, err = f.try("GET", "/fhir/Patient/1", http.Header{"Authorization": {physician}}); err == nil {
						break
					}
				}
				if err != nil || status != 200 {
					errs <- fmt.Sprintf("worker %d request %d: %d %q %v", w, i, status, body, err)
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := f.gw.Reload(t, f.cfg("00:00-24:00")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if status, body := f.send(t, "GET", "/fhir/Patient/1", http.Header{"Authorization": {locum}}); status != 200 {
		t.Errorf("after the reload to 00:00-24:00 the locum got %d %q, want 200", status, body)
	}
}

func TestWASMRuleConfigErrorsAtLoad(t *testing.T) {
	bin := harness.Binary(t)
	pki := harness.NewPKI(t)
	files := buildRules(t)
	site := func(rule string) string {
		return fmt.Sprintf("localhost {\n\ttls %q %q\n\thealthgate {\n\t\t%s\n\t}\n}\n", pki.ServerCert, pki.ServerKey, rule)
	}
	tests := []struct{ name, rule, want string }{
		{"a rule failing its own test vectors is refused", fmt.Sprintf("rule btg %q {\n\t\t\ttest %q\n\t\t}", files.btg, files.badTest),
			`rule "btg" tests ` + files.badTest + `: wasmfilter: rule "btg" fails 1 of 1 test vectors`},
		{"a rule that is not WebAssembly is refused", fmt.Sprintf("rule junk %q", files.badTest), `compiling rule "junk"`},
		{"Authorization as an obligation header is refused", fmt.Sprintf("rule btg %q {\n\t\t\tupstream_headers Authorization\n\t\t}", files.btg),
			`rule "btg" upstream_headers "Authorization"`},
		{"an unknown rule option is refused", fmt.Sprintf("rule btg %q {\n\t\t\tfuel 100\n\t\t}", files.btg), `rule "btg": unknown option "fuel"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := adaptAndValidate(t, bin, site(tt.rule)); !strings.Contains(out, tt.want) {
				t.Fatalf("output does not contain %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestRuleTestCommandPrintsATable(t *testing.T) {
	bin := harness.Binary(t)
	files := buildRules(t)
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"healthgate", "rule", "test"}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Run("a rule passing its vectors exits 0", func(t *testing.T) {
		out, err := run(files.nurse, files.nurseTests)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if diff := cmp.Diff([]string{"RESULT", "VECTOR"}, strings.Fields(lines[0])[:2]); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(lines[1], "PASS    nurse searches patients of her organisation") || lines[len(lines)-1] != "10 of 10 vectors passed" {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("a vector the rule fails is marked and exits non-zero", func(t *testing.T) {
		out, err := run("--config", "purpose_of_use=ETREAT", files.btg, files.btgTests)
		if err == nil {
			t.Fatalf("exit 0 with a failing vector:\n%s", out)
		}
		if !strings.Contains(out, "FAIL    override with EMERG allows") || !strings.Contains(out, "4 of 5 vectors passed") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("a module breaking the ABI is refused", func(t *testing.T) {
		out, err := run(files.badTest, files.btgTests)
		if err == nil || !strings.Contains(out, "compiling rule") {
			t.Fatalf("got %v:\n%s", err, out)
		}
	})
}
