package cws

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// testKeys are generated once per test binary: RSA key generation is slow.
var testKeys struct {
	sync.Mutex
	m map[string]*rsa.PrivateKey
}

// rsaKey returns the RSA key of the given name and size, made on first use.
func rsaKey(tb testing.TB, name string, bits int) *rsa.PrivateKey {
	tb.Helper()
	testKeys.Lock()
	defer testKeys.Unlock()
	id := fmt.Sprintf("%s/%d", name, bits)
	if k, ok := testKeys.m[id]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	if testKeys.m == nil {
		testKeys.m = make(map[string]*rsa.PrivateKey)
	}
	testKeys.m[id] = k
	return k
}

func pkixPEM(tb testing.TB, pub any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func pkcs1PEM(pub *rsa.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// keyDir writes one PEM file per user into a new directory.
func keyDir(tb testing.TB, files map[string][]byte) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, data := range files {
		writeFile(tb, filepath.Join(dir, name), data)
	}
	return dir
}

func TestParsePublicKey(t *testing.T) {
	k := rsaKey(t, "alice", 2048)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	small := rsaKey(t, "small", 1024)
	pkix := pkixPEM(t, &k.PublicKey)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"a PKIX PUBLIC KEY block is accepted", pkix, ""},
		{"a PKCS #1 RSA PUBLIC KEY block is accepted", pkcs1PEM(&k.PublicKey), ""},
		{"white space around the block is accepted", append(append([]byte("\n\n  "), pkix...), "\n\n"...), ""},
		{"a 1024-bit key is refused", pkixPEM(t, &small.PublicKey), "1024-bit RSA key (want at least 2048)"},
		{"an EC key is refused", pkixPEM(t, &ec.PublicKey), "*ecdsa.PublicKey key (want RSA)"},
		{"a private key is refused", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), `PEM block "PRIVATE KEY"`},
		{"a certificate is refused", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `PEM block "CERTIFICATE"`},
		{"two keys in one document are refused", append(pkix, pkix...), "more than one PEM block"},
		{"text before the block is refused", append([]byte("Public-Key: (2048 bit)\n"), pkix...), "no PEM block"},
		{"text after the block is refused", append(pkix, "trailer\n"...), "text after the PEM block"},
		{"a damaged block is refused", pkix[:len(pkix)-10], "damaged PEM block"},
		{"a block with headers is refused", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), "has headers"},
		{"garbage DER is refused", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "parsing PUBLIC KEY"},
		{"an empty document is refused", nil, "no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, fp, err := ParsePublicKey(tt.data)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !pub.Equal(&k.PublicKey) {
					t.Error("a different key came back")
				}
				der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
				if fp != sha256Sum(der) {
					t.Error("the fingerprint is not the SHA-256 of the SubjectPublicKeyInfo")
				}
				return
			}
			if err == nil || !contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if pub != nil {
				t.Error("a refused key came back")
			}
		})
	}
}
