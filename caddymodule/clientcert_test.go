package caddymodule

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestClientCertCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        ClientCert
		wantErr     string
	}{
		{
			name: "a SanteDB configuration behind nginx is read",
			input: `client_cert {
				trust_pool file /etc/ca.pem
				from_header escaped_pem
				map sha1 59EC967D51DA999AB4EE0E082C12ED288DD05FAB device ward-tablet-7
				map san_uri spiffe://hospital/app/* application {1} issuer "Hospital Apps CA"
				map_file /etc/healthgate/devices.map
				unmapped allow
				revocation ocsp_then_crl soft {
					crl_file /etc/ca.crl
					timeout 3s
					max_ttl 10m
				}
				forward x_ssl_clientcert
				cache_size 500
			}`,
			want: ClientCert{
				TrustPoolRaw: json.RawMessage(`{"pem_files":["/etc/ca.pem"],"provider":"file"}`),
				FromHeader:   &ClientCertHeader{Format: "escaped_pem"},
				Map: []ClientCertRule{
					{Field: "sha1", Pattern: "59EC967D51DA999AB4EE0E082C12ED288DD05FAB", Kind: "device", ID: "ward-tablet-7"},
					{Field: "san_uri", Pattern: "spiffe://hospital/app/*", Kind: "application", ID: "{1}", Issuer: "Hospital Apps CA"},
				},
				MapFiles: []string{"/etc/healthgate/devices.map"},
				Unmapped: "allow",
				Revocation: &ClientCertRevocation{Method: "ocsp_then_crl", Mode: "soft", CRLFiles: []string{"/etc/ca.crl"},
					Timeout: caddy.Duration(3e9), MaxTTL: caddy.Duration(600e9)},
				Forward:   "x_ssl_clientcert",
				CacheSize: 500,
			},
		},
		{
			name: "an Orthanc configuration pins self-signed peers",
			input: `client_cert {
				pin /etc/orthanc/trusted-clients.pem /etc/orthanc/more.pem
				pin folder /etc/orthanc/peers
				map subject_cn * application {cn}
			}`,
			want: ClientCert{
				PinsRaw: []json.RawMessage{
					json.RawMessage(`{"files":["/etc/orthanc/trusted-clients.pem","/etc/orthanc/more.pem"],"loader":"file"}`),
					json.RawMessage(`{"folders":["/etc/orthanc/peers"],"loader":"folder"}`),
				},
				Map: []ClientCertRule{{Field: "subject_cn", Pattern: "*", Kind: "application", ID: "{cn}"}},
			},
		},
		{
			name:  "the mode may come before the method, and RFC 9440 headers can be renamed",
			input: "client_cert {\n trust_pool file ca.pem\n from_header rfc9440 X-Cert X-Cert-Chain\n revocation hard crl\n}",
			want: ClientCert{
				TrustPoolRaw: json.RawMessage(`{"pem_files":["ca.pem"],"provider":"file"}`),
				FromHeader:   &ClientCertHeader{Format: "rfc9440", Header: "X-Cert", ChainHeader: "X-Cert-Chain"},
				Revocation:   &ClientCertRevocation{Method: "crl", Mode: "hard"},
			},
		},
		{name: "an unknown sub-directive is refused", input: "client_cert {\n bogus 1\n}", wantErr: `client_cert: unknown sub-directive "bogus"`},
		{name: "arguments on the directive are refused", input: "client_cert /etc/ca.pem", wantErr: `takes a block, not arguments (got "/etc/ca.pem")`},
		{name: "an unknown format is refused", input: "client_cert {\n from_header der\n}", wantErr: `client_cert from_header: clientcert: unknown certificate header format "der"`},
		{name: "a chain header for a format without one is refused", input: "client_cert {\n from_header xfcc X-A X-B\n}", wantErr: `format xfcc has no separate chain header (got "X-B")`},
		{name: "a bad thumbprint is refused", input: "client_cert {\n map sha256 abc device d\n}", wantErr: `client_cert map: clientcert: sha256 thumbprint "abc" is not 64 hex digits`},
		{name: "an unknown revocation word is refused", input: "client_cert {\n revocation online\n}", wantErr: `client_cert revocation: unexpected "online"`},
		{name: "a non-positive timeout is refused", input: "client_cert {\n revocation {\n timeout 0s\n }\n}", wantErr: `client_cert revocation timeout: want a positive duration, got "0s"`},
		{name: "an unknown forward format is refused", input: "client_cert {\n forward pem\n}", wantErr: `client_cert forward: clientcert: unknown forward format "pem"`},
		{name: "a zero cache size is refused", input: "client_cert {\n cache_size 0\n}", wantErr: `client_cert cache_size: want a positive number of entries, got "0"`},
		{name: "two trust pools are refused", input: "client_cert {\n trust_pool file a.pem\n trust_pool file b.pem\n}", wantErr: "trust_pool: given twice"},
		{name: "an unknown trust pool module is refused", input: "client_cert {\n trust_pool nowhere x\n}", wantErr: "client_cert trust_pool nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ClientCert
			if !checkErr(t, unmarshal(&got, tt.input), tt.wantErr) {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(ClientCert{}), cmp.Comparer(jsonEqual)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
}
