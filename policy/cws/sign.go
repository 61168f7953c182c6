package cws

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
)

// Sign makes the Authorization for content (the body, or nothing for a GET)
// signed by key as user: what a CWS client sends. Content is hashed as it
// is read, so its size does not matter.
func Sign(key *rsa.PrivateKey, alg Algorithm, user string, content io.Reader) (Authorization, error) {
	if err := CheckUser(user); err != nil {
		return Authorization{}, fmt.Errorf("cws: signing: %w", err)
	}
	h := alg.Hash()
	if h == 0 {
		return Authorization{}, fmt.Errorf("cws: signing: invalid algorithm %v", alg)
	}
	d := h.New()
	if _, err := io.Copy(d, content); err != nil {
		return Authorization{}, fmt.Errorf("cws: reading the content to sign: %w", err)
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, d.Sum(nil))
	if err != nil {
		return Authorization{}, fmt.Errorf("cws: signing: %w", err)
	}
	return Authorization{Algorithm: alg, User: user, Signature: sig}, nil
}

// ParsePrivateKey reads an unencrypted RSA private key in PEM: PKCS #8
// ("PRIVATE KEY", as openssl genpkey writes) or PKCS #1 ("RSA PRIVATE KEY").
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, err := decodeOne(data)
	if err != nil {
		return nil, fmt.Errorf("cws: private key: %w", err)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("cws: private key: encrypted keys are not supported (decrypt with openssl pkey first)")
		}
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("cws: private key: encrypted keys are not supported (decrypt with openssl pkey first)")
	default:
		return nil, fmt.Errorf("cws: private key: PEM block %q (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cws: private key: %w", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("cws: private key: a %T key (want RSA)", key)
	}
	return rsaKey, nil
}
