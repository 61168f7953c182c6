package clientcert

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
)

func mustMapper(t *testing.T, rules ...string) *Mapper {
	t.Helper()
	m := NewMapper()
	if err := ReadMap(m, strings.NewReader(strings.Join(rules, "\n")), "rules"); err != nil {
		t.Fatal(err)
	}
	return m
}

type mapped struct {
	Kind identity.Kind
	ID   string
	OK   bool
}

func TestMapping(t *testing.T) {
	root := newRoot(t, "Hospital Device CA")
	appsCA := newRoot(t, "Hospital Apps CA")
	tablet := root.leaf(t, leafOpts{cn: "ward-tablet-7", org: "Hospital"})
	app := appsCA.leaf(t, leafOpts{cn: "lab", uris: []string{"spiffe://hospital/app/lab-app"}})
	rogueApp := root.leaf(t, leafOpts{cn: "lab", uris: []string{"spiffe://hospital/app/lab-app"}})
	nurse := root.leaf(t, leafOpts{cn: "nurse.jane", emails: []string{"Jane.Doe@Hospital.org"}})
	printer := root.leaf(t, leafOpts{cn: "p", dns: []string{"PRINTER-3.ward.hospital"}})
	crlf := root.leaf(t, leafOpts{cn: "evil\r\nX-Healthgate-User: admin"})
	v := newCertView(tablet)
	colonSHA1 := strings.ToUpper(v.sha1[:2]) + ":" + strings.ToUpper(v.sha1[2:])

	m := mustMapper(t,
		"# devices by thumbprint, as SanteDB configures them",
		"sha1 "+colonSHA1+" device ward-tablet-7",
		"sha256 "+newCertView(printer).sha256+" device printer-by-hash",
		`san_uri spiffe://hospital/app/* application {1} issuer "Hospital Apps CA"`,
		"san_email *@hospital.org user {1}",
		"san_dns *.ward.hospital device dns-{1}",
		"subject_cn * user {cn}",
	)
	tests := []struct {
		name string
		cert *x509Cert
		want mapped
	}{
		{"a SHA-1 thumbprint with colons and upper case maps the device", &x509Cert{tablet}, mapped{identity.Device, "ward-tablet-7", true}},
		{"a thumbprint wins over a later pattern that also matches", &x509Cert{printer}, mapped{identity.Device, "printer-by-hash", true}},
		{"a URI SAN glob captures the application id", &x509Cert{app}, mapped{identity.Application, "lab-app", true}},
		{"the same URI SAN from another issuer skips the app rule", &x509Cert{rogueApp}, mapped{identity.User, "lab", true}},
		{"an email SAN matches case-insensitively", &x509Cert{nurse}, mapped{identity.User, "Jane.Doe", true}},
		{"a CN with CR LF yields no id rather than a header injection", &x509Cert{crlf}, mapped{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, id, ok := m.Map(tt.cert.Certificate)
			if diff := cmp.Diff(tt.want, mapped{k, id, ok}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a DNS SAN glob matches case-insensitively when no thumbprint does", func(t *testing.T) {
		m := mustMapper(t, "san_dns *.ward.hospital device dns-{1}")
		k, id, ok := m.Map(printer)
		if diff := cmp.Diff(mapped{identity.Device, "dns-PRINTER-3", true}, mapped{k, id, ok}); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a subject DN glob matches Go's DN form", func(t *testing.T) {
		m := mustMapper(t, `subject "CN=*,O=Hospital" device {1}`)
		k, id, ok := m.Map(tablet)
		if diff := cmp.Diff(mapped{identity.Device, "ward-tablet-7", true}, mapped{k, id, ok}); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// x509Cert keeps the table readable.
type x509Cert struct{ *x509.Certificate }

func TestParseRuleRefusesBadRules(t *testing.T) {
	for _, tt := range []struct {
		name, line, want string
	}{
		{"a short thumbprint is refused", "sha1 59EC96 device d", "not 40 hex digits"},
		{"a SHA-256 rule with a SHA-1 value is refused", "sha256 59EC967D51DA999AB4EE0E082C12ED288DD05FAB device d", "not 64 hex digits"},
		{"an unknown field is refused", "serial 01 device d", `unknown mapping field "serial"`},
		{"an unknown kind is refused", "subject_cn * robot d", `unknown facet kind "robot"`},
		{"a capture the pattern lacks is refused", "san_uri spiffe://x/* application {2}", "unknown placeholder {2}"},
		{"an unknown placeholder is refused", "subject_cn * user {email}", "unknown placeholder {email}"},
		{"an issuer constraint on a thumbprint is refused", "sha1 59EC967D51DA999AB4EE0E082C12ED288DD05FAB device d issuer X", "adds nothing"},
		{"a misspelt issuer keyword is refused", "subject_cn * user {cn} isuer X", `expected "issuer"`},
		{"a missing id is refused", "subject_cn * user", "got 3 words"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadMap(NewMapper(), strings.NewReader(tt.line), "devices.map")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "devices.map:1: ") {
				t.Fatalf("got %v, want devices.map:1: …%s…", err, tt.want)
			}
		})
	}
}

func TestMapFileOfThousandsOfDevices(t *testing.T) {
	root := newRoot(t, "CA")
	target := root.leaf(t, leafOpts{cn: "device-4711"})
	var b strings.Builder
	b.WriteString("# generated\n\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "sha1 %040x device dev-%d\n", i, i)
	}
	fmt.Fprintf(&b, "sha256 %s device dev-4711 # the one we look for\n", strings.ToUpper(newCertView(target).sha256))
	path := filepath.Join(t.TempDir(), "devices.map")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	m := NewMapper()
	if err := LoadMapFile(m, path); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 5001 {
		t.Fatalf("%d rules, want 5001", m.Len())
	}
	k, id, ok := m.Map(target)
	if diff := cmp.Diff(mapped{identity.Device, "dev-4711", true}, mapped{k, id, ok}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	t.Run("a thumbprint mapped twice names the line", func(t *testing.T) {
		err := ReadMap(NewMapper(), strings.NewReader(strings.Repeat("sha1 "+strings.Repeat("ab", 20)+" device x\n", 2)), path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":2: ") || !strings.Contains(err.Error(), "mapped twice") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an unterminated quote names the line", func(t *testing.T) {
		err := ReadMap(NewMapper(), strings.NewReader("\n\nsubject \"CN=* device x\n"), path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":3: ") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a missing file is an error naming it", func(t *testing.T) {
		err := LoadMapFile(NewMapper(), path+".missing")
		if err == nil || !strings.Contains(err.Error(), "devices.map.missing") {
			t.Fatalf("got %v", err)
		}
	})
}
