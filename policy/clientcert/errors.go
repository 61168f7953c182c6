package clientcert

import (
	"errors"
	"fmt"
)

// ErrNoCertificate means the request carries no certificate in the
// configured header: the header is absent, empty, or Apache's "(null)".
var ErrNoCertificate = errors.New("clientcert: no certificate")

// The kinds of HeaderError, for errors.Is.
var (
	// ErrDuplicateHeader: the header came more than once. One TLS
	// terminator sets it once; a second copy was smuggled in.
	ErrDuplicateHeader = errors.New("header given more than once")
	// ErrHeaderTooLarge: the value exceeds the size limit, checked
	// before any decoding.
	ErrHeaderTooLarge = errors.New("header value too large")
	// ErrChainTooLong: more certificates than MaxChain.
	ErrChainTooLong = errors.New("too many certificates")
	// ErrMalformed: the value is not in the configured format, or a
	// certificate in it does not parse.
	ErrMalformed = errors.New("malformed certificate header")
)

// HeaderError reports a forwarded-certificate header that could not be read.
// It never holds the header value.
type HeaderError struct {
	Header string
	Kind   error // one of ErrDuplicateHeader, ErrHeaderTooLarge, ErrChainTooLong, ErrMalformed
	Err    error // detail, may be nil
}

func (e *HeaderError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("clientcert: header %s: %v: %v", e.Header, e.Kind, e.Err)
	}
	return fmt.Sprintf("clientcert: header %s: %v", e.Header, e.Kind)
}

// Is makes errors.Is(err, ErrMalformed) and friends work.
func (e *HeaderError) Is(target error) bool { return target == e.Kind }

func (e *HeaderError) Unwrap() error { return e.Err }

// malformed builds an ErrMalformed HeaderError for header.
func malformed(header string, format string, args ...any) error {
	return &HeaderError{Header: header, Kind: ErrMalformed, Err: fmt.Errorf(format, args...)}
}
