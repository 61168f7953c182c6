package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/tests/harness"
	"github.com/healthgate/healthgate/tests/peers/fhir"
)

// auditLogGlobal routes the audit logger to its own file, as a user would
// with Caddy's log configuration, and keeps it out of the default log.
func auditLogGlobal(file string) string {
	return fmt.Sprintf(`log healthgate_audit {
		include http.handlers.healthgate.audit
		output file %q
		format json
	}
	log default {
		exclude http.handlers.healthgate.audit
	}`, file)
}

// auditLine is the part of a logged record the tests check.
type auditLine struct {
	Logger         string `json:"logger"`
	Msg            string `json:"msg"`
	RequestID      string `json:"request_id"`
	Route          string `json:"route"`
	Method         string `json:"method"`
	Path           string `json:"path"`
	Query          string `json:"query"`
	Decision       string `json:"decision"`
	Status         int    `json:"status"`
	UpstreamStatus int    `json:"upstream_status"`
	Reason         string `json:"reason"`
	ClientIP       string `json:"client_ip"`
	FHIR           *struct {
		Interaction, Type, ID string
	} `json:"fhir"`
	Token *struct {
		Iss      string `json:"iss"`
		Sub      string `json:"sub"`
		ClientID string `json:"client_id"`
		Jti      string `json:"jti"`
	} `json:"token"`
	User *struct {
		ID, Proof string
	} `json:"user"`
	Grounds    []string        `json:"grounds"`
	Policies   json.RawMessage `json:"policies"`
	Override   bool            `json:"override"`
	Overridden []string        `json:"overridden"`
	AuditEvent json.RawMessage `json:"audit_event"`
}

// readAudit waits until the audit log holds n lines and returns them.
func readAudit(t *testing.T, file string, n int) []auditLine {
	t.Helper()
	var lines []auditLine
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = lines[:0]
		data, _ := os.ReadFile(file)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l auditLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("audit log line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric returns the value of one series from a Prometheus text exposition.
func metric(t *testing.T, exposition, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("series %s: %v", series, err)
	}
	return v
}

// btgClient holds break-the-glass tokens: isOverride with purpose ETREAT and
// an overridable policy OID in scope.
const btgPolicy = "1.3.6.1.4.1.33349.3.1.5.9.2.1"

func auditClients() []harness.OPClient {
	return oidcClients(harness.OPClient{
		ID: "svc-btg", Secret: "secret-btg", Scope: "system/*.read " + btgPolicy,
		ExtraTokenClaims: map[string]any{"isOverride": true, "purpose_of_use": "ETREAT", "unique_name": "er-doc"},
		JWTClaims:        map[string]any{"sub": "er-doc"},
	})
}

func TestAuditOneRecordPerDecision(t *testing.T) {
	op := harness.StartOP(t, harness.OPConfig{Clients: auditClients()})
	pki, up := harness.NewPKI(t), harness.NewUpstream(t)
	up.Handle(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	dir := t.TempDir()
	logFile := filepath.Join(dir, "audit.log")
	gw := harness.Start(t, harness.Config{
		Env:    []string{"HG_OIDC_INTROSPECTION_SECRET=" + op.Secret("gateway")},
		Global: auditLogGlobal(logFile),
		Caddyfile: siteWith(pki, up, fmt.Sprintf(`healthgate {
		public /metadata
		route /open/* {
			name open
			missing limit
		}
		route /fhir/* {
			name fhir
		}
		%s
		break_glass {
			purposes ETREAT
			policies %s
		}
		audit {
			site test-site
			observer gw-test
			fhir_base /fhir
			log_audit_event
		}
	}`, oidcBlock(op, ""), btgPolicy)),
	})
	c := pki.Client(nil)
	token := op.Token(t, "svc-rs", "system/*.read", oidcResource)
	btg := op.Token(t, "svc-btg", "system/*.read "+btgPolicy, oidcResource)
	forged := token[:strings.LastIndex(token, ".")+1] + "c2lnbmF0dXJl"
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	type want struct {
		Route, Decision, Reason string
		Status, UpstreamStatus  int
		FHIR                    string
		TokenSub                string
	}
	requests := []struct {
		name, method, path string
		hdr                http.Header
		want               want
	}{
		{"a public path is an anonymous pass", "GET", "/metadata", nil,
			want{Route: "public", Decision: "anonymous", Reason: "public_route", Status: 200, UpstreamStatus: 200}},
		{"a token read is an allow with the token's facts", "GET", "/fhir/Patient/1", bearer(token),
			want{Route: "fhir", Decision: "allow", Status: 200, UpstreamStatus: 200, FHIR: "read Patient/1", TokenSub: oidcUser}},
		{"an upstream 404 is recorded as the upstream's status", "GET", "/fhir/Patient/missing", bearer(token),
			want{Route: "fhir", Decision: "allow", Status: 404, UpstreamStatus: 404, FHIR: "read Patient/missing", TokenSub: oidcUser}},
		{"no credentials is a deny", "GET", "/fhir/Patient/1", nil,
			want{Route: "fhir", Decision: "deny", Reason: "credentials_missing", Status: 401, FHIR: "read Patient/1"}},
		{"a forged token is a deny", "GET", "/fhir/Patient/1", bearer(forged),
			want{Route: "fhir", Decision: "deny", Status: 401, FHIR: "read Patient/1"}},
		{"a token in the query is redacted", "GET", "/fhir/Patient?access_token=" + token, nil,
			want{Route: "fhir", Decision: "deny", Reason: "credentials_missing", Status: 401, FHIR: "search-type Patient"}},
		{"a read without credentials on a limit route is a limited pass", "GET", "/open/x", nil,
			want{Route: "open", Decision: "limited", Reason: "credentials_missing", Status: 200, UpstreamStatus: 200}},
		{"a write without credentials on a limit route is a deny", "POST", "/open/x", nil,
			want{Route: "open", Decision: "deny", Reason: "credentials_missing", Status: 401}},
		{"an accepted break-the-glass is an allow with the override", "GET", "/fhir/Patient/7", bearer(btg),
			want{Route: "fhir", Decision: "allow", Status: 200, UpstreamStatus: 200, FHIR: "read Patient/7", TokenSub: "er-doc"}},
	}
	for _, r := range requests {
		do(t, c, r.method, gw.URL(r.path), r.hdr, "")
	}
	lines := readAudit(t, logFile, len(requests))
	if len(lines) != len(requests) {
		t.Fatalf("%d audit records for %d requests", len(lines), len(requests))
	}
	ids := map[string]bool{}
	for i, r := range requests {
		t.Run(r.name, func(t *testing.T) {
			l := lines[i]
			got := want{Route: l.Route, Decision: l.Decision, Reason: l.Reason, Status: l.Status, UpstreamStatus: l.UpstreamStatus}
			if l.FHIR != nil {
				got.FHIR = l.FHIR.Interaction + " " + strings.TrimSuffix(l.FHIR.Type+"/"+l.FHIR.ID, "/")
			}
			if l.Token != nil {
				got.TokenSub = l.Token.Sub
				if l.Token.Iss != op.Issuer || l.Token.Jti == "" || l.Token.ClientID == "" {
					t.Errorf("token facts %+v: want iss %s, a jti and a client_id", *l.Token, op.Issuer)
				}
			}
			w := r.want
			if w.Reason == "" && w.Decision == "deny" {
				w.Reason = l.Reason // the verifier's reason for a forged token is its own business
				if l.Reason == "" {
					t.Error("a refusal without a reason code")
				}
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if l.Logger != "http.handlers.healthgate.audit" || l.Msg != "decision" {
				t.Errorf("logger %q msg %q", l.Logger, l.Msg)
			}
			if l.ClientIP != "127.0.0.1" || l.RequestID == "" || ids[l.RequestID] {
				t.Errorf("client_ip %q, request_id %q (must be set and unique)", l.ClientIP, l.RequestID)
			}
			ids[l.RequestID] = true
		})
	}

	t.Run("the token in the query is redacted", func(t *testing.T) {
		if q := lines[5].Query; q != "access_token=REDACTED" {
			t.Errorf("query = %q", q)
		}
	})

	t.Run("break-the-glass is recorded as an Emergency Override Started AuditEvent", func(t *testing.T) {
		l := lines[len(lines)-1]
		if !l.Override || !cmp.Equal(l.Overridden, []string{btgPolicy}) {
			t.Fatalf("override %v, overridden %v; want true, [%s] (grounds %v, policies %s)", l.Override, l.Overridden, btgPolicy, l.Grounds, l.Policies)
		}
		var ev struct {
			Type           struct{ Code string }
			Subtype        []struct{ Code string }
			PurposeOfEvent []struct{ Coding []struct{ Code string } }
			Entity         []struct {
				Name string
				What struct{ Identifier struct{ Value string } }
			}
		}
		if err := json.Unmarshal(l.AuditEvent, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type.Code != "110113" || len(ev.Subtype) != 1 || ev.Subtype[0].Code != "110127" {
			t.Errorf("type %s subtype %v, want 110113 / 110127", ev.Type.Code, ev.Subtype)
		}
		if len(ev.PurposeOfEvent) != 1 || ev.PurposeOfEvent[0].Coding[0].Code != "ETREAT" {
			t.Errorf("purposeOfEvent %+v, want ETREAT", ev.PurposeOfEvent)
		}
		found := false
		for _, e := range ev.Entity {
			found = found || e.Name == "overridden policy" && e.What.Identifier.Value == "urn:oid:"+btgPolicy
		}
		if !found {
			t.Errorf("no entity for the overridden policy in %+v", ev.Entity)
		}
	})

	t.Run("every logged AuditEvent is valid FHIR R4", func(t *testing.T) {
		var evs []json.RawMessage
		for _, l := range lines {
			evs = append(evs, l.AuditEvent)
		}
		doc, _ := json.Marshal(evs)
		fhirpeer.RequireValid(t, doc)
	})

	t.Run("no token, signature or secret appears in any record or log line", func(t *testing.T) {
		audit, _ := os.ReadFile(logFile)
		all := string(audit) + gw.Logs()
		secrets := map[string]string{"token": token, "btg token": btg, "forged token": forged,
			"signature": token[strings.LastIndex(token, ".")+1:], "introspection secret": op.Secret("gateway")}
		for name, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("the %s appears in the logs", name)
			}
		}
	})

	t.Run("the decisions are counted on Caddy's metrics endpoint", func(t *testing.T) {
		m := gw.Admin(t, "/metrics")
		for series, want := range map[string]float64{
			`healthgate_decisions_total{outcome="allow",reason=""}`:                      3,
			`healthgate_decisions_total{outcome="anonymous",reason="public_route"}`:      1,
			`healthgate_decisions_total{outcome="limited",reason="credentials_missing"}`: 1,
			`healthgate_decisions_total{outcome="deny",reason="credentials_missing"}`:    3,
		} {
			if got := metric(t, m, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
		if got := metric(t, m, `healthgate_verification_duration_seconds_count{result="verified",verifier="oidc"}`); got != 3 {
			t.Errorf("oidc verifications counted %v, want 3", got)
		}
	})
}

// waitUntil polls cond until it holds, failing the test after 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// auditEndpoint is a FHIR audit server for the end-to-end shipping test: it
// stores batch entries by id and can be switched down.
type auditEndpoint struct {
	*httptest.Server
	mu      sync.Mutex
	down    bool
	refused int
	stored  map[string]int
	events  []json.RawMessage
}

func newAuditEndpoint(t *testing.T) *auditEndpoint {
	a := &auditEndpoint{stored: map[string]int{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.down {
			a.refused++
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var b struct {
			Type  string
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Type != "batch" {
			http.Error(w, "want a batch Bundle", http.StatusBadRequest)
			return
		}
		var resp struct {
			ResourceType string           `json:"resourceType"`
			Type         string           `json:"type"`
			Entry        []map[string]any `json:"entry"`
		}
		resp.ResourceType, resp.Type = "Bundle", "batch-response"
		for _, e := range b.Entry {
			var head struct{ ID string }
			_ = json.Unmarshal(e.Resource, &head)
			a.stored[head.ID]++
			a.events = append(a.events, e.Resource)
			resp.Entry = append(resp.Entry, map[string]any{"response": map[string]string{"status": "201 Created"}})
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *auditEndpoint) setDown(d bool) { a.mu.Lock(); a.down = d; a.mu.Unlock() }

func (a *auditEndpoint) snapshot() (map[string]int, []json.RawMessage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[string]int, len(a.stored))
	for k, v := range a.stored {
		m[k] = v
	}
	return m, append([]json.RawMessage(nil), a.events...)
}

func TestAuditShippingSurvivesAnAuditServerOutage(t *testing.T) {
	pki, up := harness.NewPKI(t), harness.NewUpstream(t)
	srv := newAuditEndpoint(t)
	srv.setDown(true)
	gw := harness.Start(t, harness.Config{
		Env: []string{"HG_AUDIT_TOKEN=audit-server-secret-77"},
		Caddyfile: siteWith(pki, up, fmt.Sprintf(`healthgate {
		missing limit
		audit {
			ship %s {
				header Authorization "Bearer {env.HG_AUDIT_TOKEN}"
				batch_size 10
				flush_interval 50ms
				backoff 50ms 200ms
				unauthenticated_rate 1000 1000
			}
		}
	}`, srv.URL)),
	})
	c := pki.Client(nil)
	const n = 60
	for i := range n {
		method := "GET"
		if i%3 == 0 {
			method = "DELETE" // refused: 401
		}
		do(t, c, method, gw.URL(fmt.Sprintf("/fhir/Observation/%d", i)), nil, "")
	}
	waitUntil(t, "the gateway tried the audit server a few times", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.refused >= 3
	})
	if stored, _ := srv.snapshot(); len(stored) != 0 {
		t.Fatalf("%d events stored while the audit server was down", len(stored))
	}
	if m := gw.Admin(t, "/metrics"); metric(t, m, "healthgate_audit_spool_bytes") == 0 {
		t.Errorf("nothing spooled while the audit server was down")
	}
	srv.setDown(false)
	waitUntil(t, "every event arrived", func() bool { stored, _ := srv.snapshot(); return len(stored) >= n })
	stored, events := srv.snapshot()
	if len(stored) != n || len(events) != n {
		t.Fatalf("stored %d distinct events (%d deliveries), want %d once each", len(stored), len(events), n)
	}
	doc, _ := json.Marshal(events)
	fhirpeer.RequireValid(t, doc)
	m := gw.Admin(t, "/metrics")
	if got := metric(t, m, "healthgate_audit_shipped_total"); got != n {
		t.Errorf("healthgate_audit_shipped_total = %v, want %d", got, n)
	}
	if strings.Contains(gw.Logs(), "audit-server-secret-77") {
		t.Error("the audit server's credential appears in the gateway log")
	}
}

func TestAuditSpoolOutlivesAReload(t *testing.T) {
	pki, up := harness.NewPKI(t), harness.NewUpstream(t)
	srv := newAuditEndpoint(t)
	srv.setDown(true)
	config := func(site string) harness.Config {
		return harness.Config{Caddyfile: siteWith(pki, up, fmt.Sprintf(`healthgate {
		missing ignore
		audit {
			site %s
			ship %s {
				flush_interval 50ms
				backoff 50ms 200ms
			}
		}
	}`, site, srv.URL))}
	}
	gw := harness.Start(t, config("before"))
	c := pki.Client(nil)
	const n = 30
	for i := range n {
		do(t, c, "GET", gw.URL(fmt.Sprintf("/before/%d", i)), nil, "")
	}
	waitUntil(t, "the audit server refused a batch", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.refused >= 1
	})
	if err := gw.Reload(t, config("after")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		do(t, c, "GET", gw.URL(fmt.Sprintf("/after/%d", i)), nil, "")
	}
	srv.setDown(false)
	waitUntil(t, "every event arrived", func() bool { stored, _ := srv.snapshot(); return len(stored) >= 2*n })
	time.Sleep(200 * time.Millisecond) // a few more flush rounds: nothing may come twice
	stored, events := srv.snapshot()
	if len(stored) != 2*n || len(events) != 2*n {
		t.Fatalf("stored %d distinct events in %d deliveries, want %d once each", len(stored), len(events), 2*n)
	}
	sites := map[string]int{}
	for _, e := range events {
		var ev struct{ Source struct{ Site string } }
		_ = json.Unmarshal(e, &ev)
		sites[ev.Source.Site]++
	}
	if diff := cmp.Diff(map[string]int{"before": n, "after": n}, sites); diff != "" {
		t.Errorf("events by config (-want +got):\n%s", diff)
	}
}
