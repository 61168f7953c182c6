package cws_test

import (
	"fmt"

	"github.com/healthgate/healthgate/policy/cws"
)

func ExampleParseAuthorization() {
	a, err := cws.ParseAuthorization("cws-sha256 Signature=c2lnIQ== ,Access=lab-interface")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.Algorithm, a.User, len(a.Signature))
	fmt.Println(a)

	_, err = cws.ParseAuthorization("CWS-SHA256 Access=lab-interface, Signature=c2lnIQ==, Nonce=1")
	fmt.Println(err)
	// Output:
	// CWS-SHA256 lab-interface 4
	// CWS-SHA256 Access=lab-interface, Signature=c2lnIQ==
	// cws: malformed authorization: unknown parameter "Nonce"
}

func ExampleSignsBody() {
	for _, m := range []string{"POST", "PUT", "PATCH", "GET", "HEAD", "DELETE"} {
		fmt.Println(m, cws.SignsBody(m))
	}
	// Output:
	// POST true
	// PUT true
	// PATCH true
	// GET false
	// HEAD false
	// DELETE false
}
