package cws

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// keyList formats users and PEM blocks in the Sources.File format.
func keyList(entries ...any) []byte {
	var b bytes.Buffer
	b.WriteString("# CWS key users\n\n")
	for i := 0; i < len(entries); i += 2 {
		fmt.Fprintf(&b, "%s\n%s\n", entries[i], entries[i+1])
	}
	return b.Bytes()
}

func TestLoad(t *testing.T) {
	alice, bob, carol := rsaKey(t, "alice", 2048), rsaKey(t, "bob", 2048), rsaKey(t, "carol", 2048)
	small := rsaKey(t, "small", 1024)
	tests := []struct {
		name      string
		dir       map[string][]byte
		file      []byte
		wantUsers []string
		wantErr   string
	}{
		{
			name:      "a directory of PEM files names users after the files",
			dir:       map[string][]byte{"alice.pem": pkixPEM(t, &alice.PublicKey), "bob.pem": pkcs1PEM(&bob.PublicKey)},
			wantUsers: []string{"alice", "bob"},
		},
		{
			name:      "files that are not .pem, and hidden files, are not keys",
			dir:       map[string][]byte{"alice.pem": pkixPEM(t, &alice.PublicKey), "README": []byte("keys"), ".bob.pem": []byte("junk"), "carol.pem.bak": []byte("junk")},
			wantUsers: []string{"alice"},
		},
		{
			name:      "a key list file names users on the line before each key",
			file:      keyList("alice", pkixPEM(t, &alice.PublicKey), "bob", pkcs1PEM(&bob.PublicKey)),
			wantUsers: []string{"alice", "bob"},
		},
		{
			name:      "a directory and a key list combine",
			dir:       map[string][]byte{"alice.pem": pkixPEM(t, &alice.PublicKey)},
			file:      keyList("carol", pkixPEM(t, &carol.PublicKey)),
			wantUsers: []string{"alice", "carol"},
		},
		{
			name:      "a key list with CRLF line ends is accepted",
			file:      bytes.ReplaceAll(keyList("alice", pkixPEM(t, &alice.PublicKey)), []byte("\n"), []byte("\r\n")),
			wantUsers: []string{"alice"},
		},
		{
			name:    "a user in both the directory and the key list is refused",
			dir:     map[string][]byte{"alice.pem": pkixPEM(t, &alice.PublicKey)},
			file:    keyList("alice", pkixPEM(t, &alice.PublicKey)),
			wantErr: `user "alice" defined twice`,
		},
		{
			name:    "a user twice in the key list is refused",
			file:    keyList("alice", pkixPEM(t, &alice.PublicKey), "alice", pkixPEM(t, &bob.PublicKey)),
			wantErr: `user "alice" defined twice`,
		},
		{
			name:    "a key under 2048 bits in the directory is refused with its file",
			dir:     map[string][]byte{"alice.pem": pkixPEM(t, &alice.PublicKey), "small.pem": pkixPEM(t, &small.PublicKey)},
			wantErr: `small.pem: user "small": a 1024-bit RSA key`,
		},
		{
			name:    "a key under 2048 bits in the key list is refused with its line",
			file:    keyList("alice", pkixPEM(t, &alice.PublicKey), "small", pkixPEM(t, &small.PublicKey)),
			wantErr: `:14: user "small": a 1024-bit RSA key`,
		},
		{
			name:    "a damaged key in the list is not replaced by the next one",
			file:    keyList("alice", bytes.Replace(pkixPEM(t, &alice.PublicKey), []byte("MII"), []byte("!!!"), 1), "bob", pkixPEM(t, &bob.PublicKey)),
			wantErr: `user "alice": damaged PEM block`,
		},
		{
			name:    "a user with no key in the list is refused",
			file:    []byte("alice\nbob\n" + string(pkixPEM(t, &bob.PublicKey))),
			wantErr: `user "alice": no PEM block`,
		},
		{
			name:    "a user at the end of the list without a key is refused",
			file:    keyList("alice", pkixPEM(t, &alice.PublicKey), "bob", ""),
			wantErr: `user "bob" has no PEM block after it`,
		},
		{
			name:    "a key without a user in the list is refused",
			file:    append([]byte("\n"), pkixPEM(t, &alice.PublicKey)...),
			wantErr: "a PEM block without a user name",
		},
		{
			name:    "a user name with a comma in the list is refused",
			file:    keyList("al,ice", pkixPEM(t, &alice.PublicKey)),
			wantErr: "character ','",
		},
		{
			name:    "a file name that cannot be a user is refused",
			dir:     map[string][]byte{"al ice.pem": pkixPEM(t, &alice.PublicKey)},
			wantErr: "al ice.pem: user name with character ' '",
		},
		{
			name:    "an empty directory is refused",
			dir:     map[string][]byte{},
			wantErr: "no keys in directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src Sources
			if tt.dir != nil {
				src.Dir = keyDir(t, tt.dir)
			}
			if tt.file != nil {
				src.File = filepath.Join(t.TempDir(), "cws-users.txt")
				writeFile(t, src.File, tt.file)
			}
			reg, err := Load(src)
			if tt.wantErr != "" {
				if err == nil || !contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if reg != nil {
					t.Error("a failed load returned a registry")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantUsers, reg.Users()); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			keys := map[string]*Key{}
			for _, u := range tt.wantUsers {
				k, ok := reg.Lookup(u)
				if !ok || k.User != u {
					t.Fatalf("Lookup(%q) = %v, %v", u, k, ok)
				}
				keys[u] = k
			}
			if k := keys["alice"]; k != nil && !k.Public.Equal(&alice.PublicKey) {
				t.Error("alice has another key")
			}
			if _, ok := reg.Lookup("ALICE"); ok {
				t.Error("user names matched case-insensitively")
			}
		})
	}
	t.Run("no source at all is refused", func(t *testing.T) {
		if _, err := Load(Sources{}); err == nil || !contains(err.Error(), "no key source") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a missing directory is refused", func(t *testing.T) {
		_, err := Load(Sources{Dir: filepath.Join(t.TempDir(), "missing")})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
	})
	t.Run("a symlinked key file is followed", func(t *testing.T) {
		dir := keyDir(t, map[string][]byte{"..data-alice": pkixPEM(t, &alice.PublicKey)})
		if err := os.Symlink("..data-alice", filepath.Join(dir, "alice.pem")); err != nil {
			t.Fatal(err)
		}
		reg, err := Load(Sources{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"alice"}, reg.Users()); diff != "" {
			t.Error(diff)
		}
	})
}

// writeKeyList writes n users, all with the same key (parsing costs the
// same whatever the key), in the Sources.File format.
func writeKeyList(tb testing.TB, n int) string {
	tb.Helper()
	block := pkixPEM(tb, &rsaKey(tb, "alice", 2048).PublicKey)
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "user%06d\n%s", i, block)
	}
	path := filepath.Join(tb.TempDir(), "users.txt")
	writeFile(tb, path, b.Bytes())
	return path
}

func TestLoadOneHundredThousandUsers(t *testing.T) {
	reg, err := Load(Sources{File: writeKeyList(t, 100_000)})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Len() != 100_000 {
		t.Fatalf("Len() = %d", reg.Len())
	}
	if k, ok := reg.Lookup("user099999"); !ok || k.Origin == "" {
		t.Fatalf("the last user is missing")
	}
}

func TestHistoryKeepsKeysImmutable(t *testing.T) {
	alice, bob, carol := rsaKey(t, "alice", 2048), rsaKey(t, "bob", 2048), rsaKey(t, "carol", 2048)
	reg := func(keys map[string]*Key) *Registry {
		var ks []*Key
		for u, k := range keys {
			ks = append(ks, &Key{User: u, Public: k.Public, Fingerprint: k.Fingerprint, Origin: "test"})
		}
		r, err := NewRegistry(ks...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	key := func(pub any) *Key {
		k, fp, err := ParsePublicKey(pkixPEM(t, pub))
		if err != nil {
			t.Fatal(err)
		}
		return &Key{Public: k, Fingerprint: fp}
	}
	a, b, c := key(&alice.PublicKey), key(&bob.PublicKey), key(&carol.PublicKey)

	tests := []struct {
		name    string
		loads   []map[string]*Key
		changed []string // users named in the last load's KeyChangedError
	}{
		{"reloading the same keys is admitted", []map[string]*Key{{"alice": a}, {"alice": a}}, nil},
		{"adding a user is admitted", []map[string]*Key{{"alice": a}, {"alice": a, "bob": b}}, nil},
		{"dropping a user is admitted", []map[string]*Key{{"alice": a, "bob": b}, {"alice": a}}, nil},
		{"changing a user's key is refused", []map[string]*Key{{"alice": a, "bob": b}, {"alice": c, "bob": b}}, []string{"alice"}},
		{"re-adding a dropped user with another key is refused", []map[string]*Key{{"alice": a}, {}, {"alice": b}}, []string{"alice"}},
		{"re-adding a dropped user with its old key is admitted", []map[string]*Key{{"alice": a}, {}, {"alice": a}}, nil},
		{"every changed user is listed", []map[string]*Key{{"alice": a, "bob": b}, {"alice": b, "bob": a, "carol": c}}, []string{"alice", "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory()
			var err error
			for i, l := range tt.loads {
				if err = h.Admit(reg(l)); err != nil && i < len(tt.loads)-1 {
					t.Fatalf("load %d: %v", i, err)
				}
			}
			if tt.changed == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var kce *KeyChangedError
			if !errors.As(err, &kce) {
				t.Fatalf("err = %v, want a *KeyChangedError", err)
			}
			var users []string
			for _, c := range kce.Changes {
				users = append(users, c.User)
			}
			if diff := cmp.Diff(tt.changed, users); diff != "" {
				t.Errorf("changed users (-want +got):\n%s", diff)
			}
			if !contains(err.Error(), "keys cannot be altered") {
				t.Errorf("err = %q does not say why", err)
			}
		})
	}
	t.Run("a refused reload records none of its keys", func(t *testing.T) {
		h := NewHistory()
		if err := h.Admit(reg(map[string]*Key{"alice": a})); err != nil {
			t.Fatal(err)
		}
		if err := h.Admit(reg(map[string]*Key{"alice": b, "carol": c})); err == nil {
			t.Fatal("a changed key was admitted")
		}
		// carol was not recorded with c, so another key for her is new.
		if err := h.Admit(reg(map[string]*Key{"alice": a, "carol": b})); err != nil {
			t.Fatalf("carol was recorded by a refused reload: %v", err)
		}
	})
}
