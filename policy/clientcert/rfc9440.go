package clientcert

import (
	"crypto/x509"
	"fmt"

	"github.com/dunglas/httpsfv"
)

// parseRFC9440 reads Client-Cert (an SF Byte Sequence) and the optional
// Client-Cert-Chain (an SF List of Byte Sequences, in TLS order, without
// the leaf). Parameters are ignored, as RFC 8941 asks of unknown ones.
func parseRFC9440(header, chainHeader, leaf, chain string) (*Forwarded, error) {
	if leaf == "" {
		if chain != "" {
			return nil, malformed(chainHeader, "chain given without %s", header)
		}
		return nil, ErrNoCertificate
	}
	item, err := httpsfv.UnmarshalItem([]string{leaf})
	if err != nil {
		return nil, malformed(header, "structured field: %w", err)
	}
	der, ok := item.Value.([]byte)
	if !ok {
		return nil, malformed(header, "not a byte sequence")
	}
	cert, err := parseDER(header, der)
	if err != nil {
		return nil, err
	}
	certs := []*x509.Certificate{cert}
	if chain != "" {
		list, err := httpsfv.UnmarshalList([]string{chain})
		if err != nil {
			return nil, malformed(chainHeader, "structured field: %w", err)
		}
		if len(list)+1 > MaxChain {
			return nil, &HeaderError{Header: chainHeader, Kind: ErrChainTooLong, Err: fmt.Errorf("%d certificates, limit %d", len(list)+1, MaxChain)}
		}
		for i, m := range list {
			it, ok := m.(httpsfv.Item)
			if !ok {
				return nil, malformed(chainHeader, "member %d is an inner list", i+1)
			}
			der, ok := it.Value.([]byte)
			if !ok {
				return nil, malformed(chainHeader, "member %d is not a byte sequence", i+1)
			}
			c, err := parseDER(chainHeader, der)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
	}
	return forwarded(header, certs)
}
