package devpki

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"software.sslmate.com/src/go-pkcs12"
)

// DevSet is the set `caddy healthgate pki` makes: a CA, a server certificate
// for localhost and one client certificate per facet kind, as SanteDB's
// dual-PKI and Orthanc's mutual-TLS instructions use them.
type DevSet struct {
	Dir                     string
	CACert, CAKey           string
	ServerCert, ServerKey   string
	DeviceCert, DeviceKey   string
	ApplicationCert, AppKey string
	UserCert, UserKey       string
	UserP12                 string
	DeviceID, ApplicationID string
	UserID                  string
	P12Password             string
}

// Development identities: a ward tablet, a lab application and a clinician.
const (
	DevDeviceID      = "ward-tablet-7"
	DevApplicationID = "lab-app"
	DevUserID        = "allison"
	// DevP12Password protects user.p12. Browsers refuse to import a
	// PKCS#12 without one on some platforms; it is printed, not secret.
	DevP12Password = "healthgate"
)

// Generate makes the development set in dir, or reuses it when a previous
// run made it: running twice is safe and keeps the CA a browser may already
// trust.
func Generate(dir string) (*DevSet, error) {
	s := devSetFiles(dir)
	if _, err := os.Stat(s.UserP12); err == nil {
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	ca, err := NewRoot("healthgate development CA")
	if err != nil {
		return nil, err
	}
	if _, _, err := WriteAuthority(dir, "ca", ca); err != nil {
		return nil, err
	}
	leaves := []struct {
		name string
		o    Options
	}{
		{"server", Options{CommonName: "localhost", DNSNames: []string{"localhost"},
			IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, ExtKeyUsage: serverAuth}},
		{"device", Options{CommonName: DevDeviceID, Organization: "Ward 7", RSABits: 2048,
			URIs: []string{"urn:healthgate:device:" + DevDeviceID}}},
		{"application", Options{CommonName: DevApplicationID, RSABits: 2048,
			URIs: []string{"spiffe://healthgate.local/app/" + DevApplicationID}}},
		{"user", Options{CommonName: DevUserID, RSABits: 2048, Emails: []string{DevUserID + "@hospital.example"}}},
	}
	var userLeaf *Leaf
	for _, l := range leaves {
		leaf, err := ca.Issue(l.o)
		if err != nil {
			return nil, err
		}
		if _, _, err := WriteLeaf(dir, l.name, leaf); err != nil {
			return nil, err
		}
		if l.name == "user" {
			userLeaf = leaf
		}
	}
	p12, err := pkcs12.Modern.WithRand(rand.Reader).Encode(userLeaf.Key, userLeaf.Cert, nil, DevP12Password)
	if err != nil {
		return nil, fmt.Errorf("devpki: encoding user.p12: %w", err)
	}
	if err := os.WriteFile(s.UserP12, p12, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

func devSetFiles(dir string) *DevSet {
	f := func(n string) string { return filepath.Join(dir, n) }
	return &DevSet{
		Dir: dir, CACert: f("ca.crt"), CAKey: f("ca.key"),
		ServerCert: f("server.crt"), ServerKey: f("server.key"),
		DeviceCert: f("device.crt"), DeviceKey: f("device.key"),
		ApplicationCert: f("application.crt"), AppKey: f("application.key"),
		UserCert: f("user.crt"), UserKey: f("user.key"), UserP12: f("user.p12"),
		DeviceID: DevDeviceID, ApplicationID: DevApplicationID, UserID: DevUserID,
		P12Password: DevP12Password,
	}
}
