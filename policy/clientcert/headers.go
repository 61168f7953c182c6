package clientcert

// ForwardedHeaders lists every header any TLS terminator is known to use to
// forward a client certificate or facts about it, in canonical form. A
// client-supplied copy of any of them must never reach the upstream; the
// handler removes them (and their underscore variants) from every request
// whose peer is not a trusted proxy, and the certificate is re-verified
// before it is believed from one that is.
func ForwardedHeaders() []string {
	return []string{
		// SanteDB, nginx, Apache, HAProxy conventions.
		"X-Ssl-Clientcert",
		"X-Ssl-Client-Cert",
		"X-Ssl-Client-Chain",
		"X-Ssl-Client-Verify",
		"X-Ssl-Client-Dn",
		"X-Ssl-Client-Sha1",
		"X-Client-Cert",
		"X-Client-Cert-Dn",
		"X-Client-Cert-San",
		"Ssl-Client-Cert",
		"Ssl-Client-Verify",
		"Ssl-Client-Subject-Dn",
		"Ssl-Client-Issuer-Dn",
		// RFC 9440.
		"Client-Cert",
		"Client-Cert-Chain",
		// Envoy.
		"X-Forwarded-Client-Cert",
		// Traefik.
		"X-Forwarded-Tls-Client-Cert",
		"X-Forwarded-Tls-Client-Cert-Info",
		// AWS ALB.
		"X-Amzn-Mtls-Clientcert",
		"X-Amzn-Mtls-Clientcert-Leaf",
		"X-Amzn-Mtls-Clientcert-Serial-Number",
		"X-Amzn-Mtls-Clientcert-Issuer",
		"X-Amzn-Mtls-Clientcert-Subject",
		"X-Amzn-Mtls-Clientcert-Validity",
		// AWS CloudFront.
		"Cloudfront-Viewer-Cert-Present",
		"Cloudfront-Viewer-Cert-Pem",
		"Cloudfront-Viewer-Cert-Sha256",
		"Cloudfront-Viewer-Cert-Serial-Number",
		"Cloudfront-Viewer-Cert-Issuer",
		"Cloudfront-Viewer-Cert-Subject",
		"Cloudfront-Viewer-Cert-Validity",
	}
}
