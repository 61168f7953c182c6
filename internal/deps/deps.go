//go:build tools

// Package deps pins modules that the project's packages import as they land,
// so parallel work never races on go.mod. Remove an entry once a real import
// of it exists.
package deps

import (
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/tetratelabs/wazero"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/crypto/ocsp"
	_ "software.sslmate.com/src/go-pkcs12"
)
