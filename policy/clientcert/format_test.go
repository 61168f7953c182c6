package clientcert

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fixtures(t *testing.T) (leafPEM, caPEM string, leafDER, caDER []byte) {
	leaf, ca := fixture(t, "fuzz-leaf.pem"), fixture(t, "fuzz-ca.pem")
	return pemOf(leaf), pemOf(ca), leaf.Raw, ca.Raw
}

func TestParseEveryFormat(t *testing.T) {
	leafPEM, caPEM, leafDER, caDER := fixtures(t)
	b64 := base64.StdEncoding.EncodeToString
	apache := strings.ReplaceAll(strings.TrimSpace(leafPEM), "\n", " ")
	// nginx $ssl_client_cert folds lines with a TAB; net/http joins a
	// folded header with a space, a raw TAB may survive other hops.
	nginxFolded := strings.ReplaceAll(strings.TrimSpace(leafPEM), "\n", "\n\t")
	escaped := url.PathEscape(leafPEM)
	formEscaped := url.QueryEscape(leafPEM) // space as '+', '+' as %2B
	albEscaped := strings.NewReplacer("%2B", "+", "%3D", "=", "%2F", "/").Replace(url.QueryEscape(leafPEM))
	albEscaped = strings.ReplaceAll(albEscaped, "+CERTIFICATE", "%20CERTIFICATE")

	type want struct {
		leaf  []byte
		inter int
	}
	tests := []struct {
		name    string
		format  Format
		headers map[string]string
		want    want
	}{
		{"PEM with real newlines is read", FormatPEM, map[string]string{"X-SSL-ClientCert": leafPEM}, want{leafDER, 0}},
		{"Apache's PEM with line breaks turned into spaces is read", FormatPEM, map[string]string{"X-SSL-ClientCert": apache}, want{leafDER, 0}},
		{"nginx's TAB-folded PEM is read", FormatPEM, map[string]string{"X-SSL-ClientCert": nginxFolded}, want{leafDER, 0}},
		{"PEM leaf followed by its CA is read as leaf and intermediate", FormatPEM, map[string]string{"X-SSL-ClientCert": leafPEM + caPEM}, want{leafDER, 1}},
		{"nginx escaped PEM is read", FormatEscapedPEM, map[string]string{"X-SSL-ClientCert": escaped}, want{leafDER, 0}},
		{"form-escaped PEM with '+' for space is read", FormatEscapedPEM, map[string]string{"X-SSL-ClientCert": formEscaped}, want{leafDER, 0}},
		{"HAProxy base64 DER is read", FormatBase64DER, map[string]string{"X-SSL-Client-Cert": b64(leafDER)}, want{leafDER, 0}},
		{"Traefik's comma list is read leaf first", FormatBase64DER, map[string]string{"X-SSL-Client-Cert": b64(leafDER) + "," + b64(caDER)}, want{leafDER, 1}},
		{"RFC 9440 Client-Cert alone is read", FormatRFC9440, map[string]string{"Client-Cert": ":" + b64(leafDER) + ":"}, want{leafDER, 0}},
		{"RFC 9440 Client-Cert with a chain is read", FormatRFC9440, map[string]string{"Client-Cert": ":" + b64(leafDER) + ":", "Client-Cert-Chain": ":" + b64(caDER) + ":"}, want{leafDER, 1}},
		{"RFC 9440 parameters are ignored", FormatRFC9440, map[string]string{"Client-Cert": ":" + b64(leafDER) + ":;x=1"}, want{leafDER, 0}},
		{"XFCC Cert of a single element is read", FormatXFCC, map[string]string{"X-Forwarded-Client-Cert": `By=spiffe://gw;Hash=abc;Cert="` + escaped + `";Subject="CN=fuzz-leaf,O=x"`}, want{leafDER, 0}},
		{"XFCC takes the last element, the nearest proxy's", FormatXFCC, map[string]string{"X-Forwarded-Client-Cert": `Cert="` + url.PathEscape(caPEM) + `",By=spiffe://gw;Cert=` + escaped}, want{leafDER, 0}},
		{"XFCC Chain alone gives leaf and intermediates", FormatXFCC, map[string]string{"X-Forwarded-Client-Cert": `Chain=` + url.PathEscape(leafPEM+caPEM)}, want{leafDER, 1}},
		{"XFCC Cert and Chain agreeing are read", FormatXFCC, map[string]string{"X-Forwarded-Client-Cert": `cert=` + escaped + `;CHAIN=` + url.PathEscape(leafPEM+caPEM)}, want{leafDER, 1}},
		{"XFCC quoted subject with separators inside does not split", FormatXFCC, map[string]string{"X-Forwarded-Client-Cert": `Subject="CN=a,O=b;c=\"d\"";Cert=` + escaped}, want{leafDER, 0}},
		{"ALB leaf with +=/ unescaped is read", FormatALB, map[string]string{"X-Amzn-Mtls-Clientcert-Leaf": albEscaped}, want{leafDER, 0}},
		{"ALB passthrough chain is read leaf first", FormatALB, map[string]string{"X-Amzn-Mtls-Clientcert": url.PathEscape(leafPEM + caPEM)}, want{leafDER, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(tt.format, "", "")
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			raw, err := src.Read(h)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			fw, err := src.Parse(raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := want{fw.Leaf.Raw, len(fw.Intermediates)}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaliciousHeadersAreRefused(t *testing.T) {
	leafPEM, caPEM, leafDER, caDER := fixtures(t)
	b64 := base64.StdEncoding.EncodeToString
	escaped := url.PathEscape(leafPEM)
	body := strings.Join(strings.Split(strings.TrimSpace(leafPEM), "\n")[1:], "")
	body = strings.TrimSuffix(body, pemEnd)
	many := strings.Repeat(b64(caDER)+",", MaxChain) + b64(leafDER)

	tests := []struct {
		name   string
		format Format
		values map[string][]string
		want   error
	}{
		{"a header given twice is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {leafPEM, leafPEM}}, ErrDuplicateHeader},
		{"an RFC 9440 chain header given twice is refused", FormatRFC9440, map[string][]string{"Client-Cert": {":" + b64(leafDER) + ":"}, "Client-Cert-Chain": {":" + b64(caDER) + ":", ":" + b64(caDER) + ":"}}, ErrDuplicateHeader},
		{"a value over the size limit is refused before decoding", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {strings.Repeat("A", MaxLeafHeaderBytes+1)}}, ErrHeaderTooLarge},
		{"an XFCC value over its limit is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {strings.Repeat("x", MaxChainHeaderBytes+1)}}, ErrHeaderTooLarge},
		{"garbage after the PEM end line is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {leafPEM + "X-Injected: 1"}}, ErrMalformed},
		{"text before the PEM begin line is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {"junk" + leafPEM}}, ErrMalformed},
		{"PEM without armor is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {body}}, ErrMalformed},
		{"PEM with an encrypted-key header line is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {strings.Replace(leafPEM, pemBegin+"\n", pemBegin+"\nProc-Type: 4,ENCRYPTED\n", 1)}}, ErrMalformed},
		{"a PEM private key block is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}}, ErrMalformed},
		{"PEM whose base64 is cut short is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {strings.Replace(leafPEM, "\n"+pemEnd, "A\n"+pemEnd, 1)}}, ErrMalformed},
		{"PEM with no end line is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {strings.TrimSuffix(strings.TrimSpace(leafPEM), pemEnd)}}, ErrMalformed},
		{"DER with trailing bytes is refused", FormatBase64DER, map[string][]string{"X-Ssl-Client-Cert": {b64(append(append([]byte{}, leafDER...), 0, 0))}}, ErrMalformed},
		{"unpadded base64 is refused", FormatBase64DER, map[string][]string{"X-Ssl-Client-Cert": {strings.TrimRight(b64(leafDER[:len(leafDER)-1]), "=")}}, ErrMalformed},
		{"an empty element in a base64 list is refused", FormatBase64DER, map[string][]string{"X-Ssl-Client-Cert": {b64(leafDER) + ",," + b64(caDER)}}, ErrMalformed},
		{"a chain longer than the limit is refused", FormatBase64DER, map[string][]string{"X-Ssl-Client-Cert": {many}}, ErrChainTooLong},
		{"a PEM chain longer than the limit is refused", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {strings.Repeat(caPEM, MaxChain+1)}}, ErrChainTooLong},
		{"bad percent-encoding is refused", FormatEscapedPEM, map[string][]string{"X-Ssl-Clientcert": {escaped + "%zz"}}, ErrMalformed},
		{"doubly escaped PEM is refused", FormatEscapedPEM, map[string][]string{"X-Ssl-Clientcert": {url.PathEscape(escaped)}}, ErrMalformed},
		{"an RFC 9440 token instead of bytes is refused", FormatRFC9440, map[string][]string{"Client-Cert": {"abc"}}, ErrMalformed},
		{"an RFC 9440 list in Client-Cert is refused", FormatRFC9440, map[string][]string{"Client-Cert": {":" + b64(leafDER) + ":, :" + b64(caDER) + ":"}}, ErrMalformed},
		{"an RFC 9440 chain without Client-Cert is refused", FormatRFC9440, map[string][]string{"Client-Cert-Chain": {":" + b64(caDER) + ":"}}, ErrMalformed},
		{"an RFC 9440 inner list in the chain is refused", FormatRFC9440, map[string][]string{"Client-Cert": {":" + b64(leafDER) + ":"}, "Client-Cert-Chain": {"(:" + b64(caDER) + ":)"}}, ErrMalformed},
		{"an XFCC unterminated quote is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {`Subject="abc;Cert=` + escaped}}, ErrMalformed},
		{"an XFCC Cert given twice is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {"Cert=" + escaped + ";Cert=" + escaped}}, ErrMalformed},
		{"an XFCC pair without '=' is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {"Cert=" + escaped + ";bogus"}}, ErrMalformed},
		{"an XFCC trailing empty element is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {"Cert=" + escaped + ","}}, ErrMalformed},
		{"an XFCC Chain not starting with Cert is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {"Cert=" + escaped + ";Chain=" + url.PathEscape(caPEM+leafPEM)}}, ErrMalformed},
		{"an XFCC empty Chain beside a Cert is refused, not read as no certificate", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {"Cert=" + escaped + ";Chain="}}, ErrMalformed},
		{"an XFCC empty Cert is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {`Cert=""`}}, ErrMalformed},
		{"an XFCC Cert with two certificates is refused", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {"Cert=" + url.PathEscape(leafPEM+caPEM)}}, ErrMalformed},
		{"ALB leaf and chain together are refused", FormatALB, map[string][]string{"X-Amzn-Mtls-Clientcert-Leaf": {escaped}, "X-Amzn-Mtls-Clientcert": {escaped}}, ErrMalformed},
		{"an ALB leaf header with a chain is refused", FormatALB, map[string][]string{"X-Amzn-Mtls-Clientcert-Leaf": {url.PathEscape(leafPEM + caPEM)}}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewSource(tt.format, "", "")
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header(tt.values)
			raw, err := src.Read(h)
			if err == nil {
				_, err = src.Parse(raw)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("got %T, want *HeaderError", err)
			}
			if strings.Contains(err.Error(), "MII") {
				t.Errorf("error echoes certificate bytes: %v", err)
			}
		})
	}
}

func TestNoCertificateForms(t *testing.T) {
	for _, tt := range []struct {
		name   string
		format Format
		values map[string][]string
	}{
		{"an absent header means no certificate", FormatPEM, nil},
		{"an empty header means no certificate", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {""}}},
		{"Apache's (null) means no certificate", FormatPEM, map[string][]string{"X-Ssl-Clientcert": {"(null)"}}},
		{"white space means no certificate", FormatEscapedPEM, map[string][]string{"X-Ssl-Clientcert": {"  "}}},
		{"an empty RFC 9440 pair means no certificate", FormatRFC9440, map[string][]string{"Client-Cert": {""}, "Client-Cert-Chain": {""}}},
		{"an XFCC element without Cert or Chain means no certificate", FormatXFCC, map[string][]string{"X-Forwarded-Client-Cert": {`By=spiffe://gw;Hash=abcd;Subject="CN=x"`}}},
		{"empty ALB headers mean no certificate", FormatALB, map[string][]string{"X-Amzn-Mtls-Clientcert-Leaf": {"(null)"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, _ := NewSource(tt.format, "", "")
			raw, err := src.Read(http.Header(tt.values))
			if err == nil {
				_, err = src.Parse(raw)
			}
			if err != ErrNoCertificate {
				t.Fatalf("got %v, want ErrNoCertificate", err)
			}
		})
	}
}

func TestSourceConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name           string
		format, header string
		chain          string
		want           Source
		wantErr        string
	}{
		{"escaped_pem defaults to SanteDB's X-SSL-ClientCert", "escaped_pem", "", "", Source{Format: FormatEscapedPEM, Header: "X-Ssl-Clientcert"}, ""},
		{"rfc9440 defaults to Client-Cert and Client-Cert-Chain", "rfc9440", "", "", Source{Format: FormatRFC9440, Header: "Client-Cert", ChainHeader: "Client-Cert-Chain"}, ""},
		{"a header name can be overridden", "base64_der", "x-forwarded-tls-client-cert", "", Source{Format: FormatBase64DER, Header: "X-Forwarded-Tls-Client-Cert"}, ""},
		{"alb chain header can be overridden", "alb", "", "X-Chain", Source{Format: FormatALB, Header: "X-Amzn-Mtls-Clientcert-Leaf", ChainHeader: "X-Chain"}, ""},
		{"an unknown format is refused", "der", "", "", Source{}, `unknown certificate header format "der"`},
		{"a chain header for xfcc is refused", "xfcc", "", "X-Chain", Source{}, "no separate chain header"},
		{"a header name with a colon is refused", "pem", "X-A: b", "", Source{}, "invalid header name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFormat(tt.format)
			var got Source
			if err == nil {
				got, err = NewSource(f, tt.header, tt.chain)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRawKeyDependsOnFormatAndEveryValue(t *testing.T) {
	a := Raw{Leaf: "x", Chain: "y"}
	keys := map[[32]byte]string{}
	for name, k := range map[string][32]byte{
		"pem x y":  a.Key(FormatPEM),
		"alb x y":  a.Key(FormatALB),
		"pem xy":   Raw{Leaf: "xy"}.Key(FormatPEM),
		"pem x y2": Raw{Leaf: "x", Chain: "y2"}.Key(FormatPEM),
		// Without the lengths, a separator byte inside a value would
		// move the boundary between the two headers.
		"pem x\\0y":  Raw{Leaf: "x\x00y"}.Key(FormatPEM),
		"pem x y\\0": Raw{Leaf: "x", Chain: "y\x00"}.Key(FormatPEM),
	} {
		if other, dup := keys[k]; dup {
			t.Errorf("%s and %s share a cache key", name, other)
		}
		keys[k] = name
	}
}

func TestForwardedHeadersCoverEveryFormatsDefaults(t *testing.T) {
	all := map[string]bool{}
	for _, h := range ForwardedHeaders() {
		if h != http.CanonicalHeaderKey(h) {
			t.Errorf("%q is not canonical", h)
		}
		all[h] = true
	}
	for f := FormatPEM; f <= FormatALB; f++ {
		h, c := f.DefaultHeaders()
		for _, n := range []string{h, c} {
			if n != "" && !all[http.CanonicalHeaderKey(n)] {
				t.Errorf("format %s default header %s is not in ForwardedHeaders", f, n)
			}
		}
	}
	for _, n := range []string{"X-SSL-ClientCert", "X-SSL-Client-Cert", "Ssl-Client-Cert", "X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info"} {
		if !all[http.CanonicalHeaderKey(n)] {
			t.Errorf("%s missing", n)
		}
	}
}
