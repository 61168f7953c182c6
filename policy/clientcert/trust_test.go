package clientcert

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestTrustVerify(t *testing.T) {
	root := newRoot(t, "Hospital Root")
	inter := root.intermediate(t, "Hospital Device CA")
	otherRoot := newRoot(t, "Hospital Root") // same name, other key
	otherInter := otherRoot.intermediate(t, "Hospital Device CA")
	orthancClient := selfSigned(t, leafOpts{cn: "orthanc-peer-b"})
	serverOnly := selfSigned(t, leafOpts{cn: "pinned-server", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	expiredPin := selfSigned(t, leafOpts{cn: "old-peer", notAfter: testNow.Add(-time.Hour)})
	pinnedIssued := inter.leaf(t, leafOpts{cn: "pinned-tablet"})

	trust, err := NewTrust(pool(root.cert), []*x509.Certificate{orthancClient, serverOnly, expiredPin, pinnedIssued})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		leaf          *x509.Certificate
		intermediates []*x509.Certificate
		want          error
		chainLen      int
	}{
		{"a leaf issued by the root is trusted", root.leaf(t, leafOpts{cn: "tablet"}), nil, nil, 2},
		{"a leaf issued by an intermediate the client sent is trusted", inter.leaf(t, leafOpts{cn: "tablet"}), []*x509.Certificate{inter.cert}, nil, 3},
		{"a leaf whose intermediate the client did not send is untrusted", inter.leaf(t, leafOpts{cn: "tablet"}), nil, ErrUntrusted, 0},
		{"a leaf sent with a look-alike intermediate of another root is untrusted", inter.leaf(t, leafOpts{cn: "tablet"}), []*x509.Certificate{otherInter.cert}, ErrUntrusted, 0},
		{"a leaf of an unknown CA with the same name is untrusted", otherRoot.leaf(t, leafOpts{cn: "tablet"}), nil, ErrUntrusted, 0},
		{"an expired leaf is refused as expired", root.leaf(t, leafOpts{cn: "tablet", notAfter: testNow.Add(-time.Minute)}), nil, ErrExpired, 0},
		{"a leaf not yet valid is refused as expired", root.leaf(t, leafOpts{cn: "tablet", notBefore: testNow.Add(time.Hour)}), nil, ErrExpired, 0},
		{"a serverAuth-only leaf is refused for its usage", root.leaf(t, leafOpts{cn: "web", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), nil, ErrUsage, 0},
		{"a pinned self-signed leaf is trusted alone", orthancClient, nil, nil, 1},
		{"a self-signed leaf that is not pinned is untrusted", selfSigned(t, leafOpts{cn: "orthanc-peer-b"}), nil, ErrUntrusted, 0},
		{"an expired pinned leaf is refused as expired", expiredPin, nil, ErrExpired, 0},
		{"a pinned serverAuth-only leaf is refused for its usage", serverOnly, nil, ErrUsage, 0},
		// The whole chain, so its revocation is checked like any other.
		{"a pinned leaf that chains to the pool is verified through the pool", pinnedIssued, []*x509.Certificate{inter.cert}, nil, 3},
		{"a pinned leaf sent without its intermediate is still trusted alone", pinnedIssued, nil, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := trust.Verify(tt.leaf, tt.intermediates, testNow)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if len(chain) != tt.chainLen {
				t.Errorf("chain length %d, want %d", len(chain), tt.chainLen)
			}
		})
	}
}

func TestTrustNeedsAPoolOrPins(t *testing.T) {
	if _, err := NewTrust(nil, nil); err == nil {
		t.Fatal("no error for an empty trust")
	}
	pinOnly, err := NewTrust(nil, []*x509.Certificate{selfSigned(t, leafOpts{cn: "a"})})
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(t, "R")
	if _, err := pinOnly.Verify(root.leaf(t, leafOpts{cn: "b"}), nil, testNow); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("pins only: got %v, want ErrUntrusted", err)
	}
}
