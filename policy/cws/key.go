package cws

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// MinBits is the smallest RSA key accepted, as the CWS specification
// recommends. CorEMR itself uses 4096.
const MinBits = 2048

// The PEM block types accepted for public keys.
const (
	pemPKIX  = "PUBLIC KEY"     // SubjectPublicKeyInfo (openssl rsa -pubout)
	pemPKCS1 = "RSA PUBLIC KEY" // PKCS #1 (openssl rsa -RSAPublicKey_out)
)

// Key is one key user's public key.
type Key struct {
	User   string
	Public *rsa.PublicKey
	// Fingerprint is the SHA-256 of the key's SubjectPublicKeyInfo DER,
	// as `openssl pkey -pubin -outform DER | openssl dgst -sha256` shows.
	Fingerprint [32]byte
	// Origin says where the key was read: a file, or file:line.
	Origin string
}

// FingerprintHex is the fingerprint in lowercase hex.
func (k *Key) FingerprintHex() string { return hex.EncodeToString(k.Fingerprint[:]) }

// ParsePublicKey reads a PEM document holding exactly one RSA public key of
// at least MinBits, as a PUBLIC KEY (PKIX) or RSA PUBLIC KEY (PKCS #1) block,
// and nothing else but white space.
func ParsePublicKey(data []byte) (*rsa.PublicKey, [32]byte, error) {
	block, err := decodeOne(data)
	if err != nil {
		return nil, [32]byte{}, err
	}
	return publicKey(block)
}

// decodeOne decodes data as exactly one PEM block. encoding/pem alone would
// skip text before a block and, when a block is damaged, go on to the next
// one, so a broken key could be replaced silently by its neighbour.
func decodeOne(data []byte) (*pem.Block, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		return nil, errors.New("no PEM block (want -----BEGIN PUBLIC KEY-----)")
	}
	if bytes.Count(trimmed, []byte("-----BEGIN ")) != 1 {
		return nil, errors.New("more than one PEM block")
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, errors.New("damaged PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("text after the PEM block")
	}
	return block, nil
}

// publicKey checks a block's type, key type and size.
func publicKey(block *pem.Block) (*rsa.PublicKey, [32]byte, error) {
	var (
		pub any
		der []byte
		err error
	)
	if len(block.Headers) != 0 {
		return nil, [32]byte{}, fmt.Errorf("PEM block %q has headers (an encrypted or non-standard block)", block.Type)
	}
	switch block.Type {
	case pemPKIX:
		der = block.Bytes
		pub, err = x509.ParsePKIXPublicKey(der)
	case pemPKCS1:
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		if err == nil {
			der, err = x509.MarshalPKIXPublicKey(pub)
		}
	default:
		return nil, [32]byte{}, fmt.Errorf("PEM block %q (want %q or %q)", block.Type, pemPKIX, pemPKCS1)
	}
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, [32]byte{}, fmt.Errorf("a %T key (want RSA)", pub)
	}
	if bits := rsaPub.N.BitLen(); bits < MinBits {
		return nil, [32]byte{}, fmt.Errorf("a %d-bit RSA key (want at least %d)", bits, MinBits)
	}
	return rsaPub, sha256.Sum256(der), nil
}
