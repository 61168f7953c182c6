package clientcert

// parseALB reads AWS ALB's headers: X-Amzn-Mtls-Clientcert-Leaf (verify
// mode, the leaf) or X-Amzn-Mtls-Clientcert (passthrough mode, the whole
// chain, leaf first), both URL-encoded PEM. ALB sends one or the other;
// both at once is refused rather than guessed at.
func parseALB(header, chainHeader, leaf, chain string) (*Forwarded, error) {
	switch {
	case leaf != "" && chain != "":
		return nil, malformed(header, "both %s and %s given", header, chainHeader)
	case leaf != "":
		certs, err := decodeEscapedPEM(header, leaf)
		if err != nil {
			return nil, err
		}
		if len(certs) != 1 {
			return nil, malformed(header, "%d certificates, want 1", len(certs))
		}
		return forwarded(header, certs)
	case chain != "":
		certs, err := decodeEscapedPEM(chainHeader, chain)
		if err != nil {
			return nil, err
		}
		return forwarded(chainHeader, certs)
	}
	return nil, ErrNoCertificate
}
