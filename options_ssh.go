package curlpoll

// #include "shim.h"
import "C"

import "encoding/base64"

// SSHAuth is a set of SSH authentication methods (CURLSSH_AUTH_*).
type SSHAuth int

// Values for SetSSHAuthTypes, to be combined with |.
const (
	SSHAuthPublicKey SSHAuth = C.CURLSSH_AUTH_PUBLICKEY // CURLSSH_AUTH_PUBLICKEY: the key files
	SSHAuthPassword  SSHAuth = C.CURLSSH_AUTH_PASSWORD  // CURLSSH_AUTH_PASSWORD: the password of SetUserPassword
	SSHAuthHost      SSHAuth = C.CURLSSH_AUTH_HOST      // CURLSSH_AUTH_HOST: host-based
	SSHAuthKeyboard  SSHAuth = C.CURLSSH_AUTH_KEYBOARD  // CURLSSH_AUTH_KEYBOARD: keyboard-interactive, answered with the password
	SSHAuthAgent     SSHAuth = C.CURLSSH_AUTH_AGENT     // CURLSSH_AUTH_AGENT: an ssh-agent
	SSHAuthAny       SSHAuth = C.CURLSSH_AUTH_ANY       // CURLSSH_AUTH_ANY: whatever the server offers, the default
)

// SetSSHAuthTypes limits the authentication methods SCP and SFTP may use
// (CURLOPT_SSH_AUTH_TYPES).
func (e *Easy) SetSSHAuthTypes(types SSHAuth) error {
	return e.setLong(C.CURLOPT_SSH_AUTH_TYPES, int64(types))
}

// SetSSHPrivateKeyFile sets the file of the private key for SSH public key
// authentication (CURLOPT_SSH_PRIVATE_KEYFILE); its passphrase, if any, with
// SetKeyPassword (CURLOPT_KEYPASSWD).
func (e *Easy) SetSSHPrivateKeyFile(path string) error {
	return e.setString(C.CURLOPT_SSH_PRIVATE_KEYFILE, path)
}

// SetSSHPublicKeyFile sets the file of the public key for SSH public key
// authentication (CURLOPT_SSH_PUBLIC_KEYFILE); libssh2 derives it from the
// private key when it is not set.
func (e *Easy) SetSSHPublicKeyFile(path string) error {
	return e.setString(C.CURLOPT_SSH_PUBLIC_KEYFILE, path)
}

// SetSSHKnownHosts sets the known_hosts file that SCP and SFTP check the
// server's host key against (CURLOPT_SSH_KNOWNHOSTS): a host whose key is
// missing from the file or differs from it is refused. Without a known_hosts
// file or a key fingerprint (SetSSHHostPublicKeySHA256) libcurl accepts any
// host key.
func (e *Easy) SetSSHKnownHosts(path string) error {
	return e.setString(C.CURLOPT_SSH_KNOWNHOSTS, path)
}

// SetSSHHostPublicKeySHA256 pins the server's host key to its SHA-256
// fingerprint, the base64 text (unpadded, as ssh-keygen -l prints it after
// "SHA256:"; the prefix is accepted too) (CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256,
// libcurl 7.80.0 or newer with libssh2). Any other key fails the transfer.
// A value that is not a SHA-256 fingerprint is refused here: libcurl would
// only fail at connect time. On a libcurl without it, the setting fails
// rather than being dropped.
func (e *Easy) SetSSHHostPublicKeySHA256(fingerprint string) error {
	fp := fingerprint
	if len(fp) > 7 && fp[:7] == "SHA256:" {
		fp = fp[7:]
	}
	if fp != "" {
		if b, err := base64.RawStdEncoding.DecodeString(trimPad(fp)); err != nil || len(b) != 32 {
			return &InputError{What: "SSH host key SHA-256 fingerprint", Value: fingerprint, Reason: "is not 43 characters of base64 for 32 bytes"}
		}
	}
	return e.setString(C.CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, trimPad(fp))
}

// SetSSHHostPublicKeyMD5 pins the server's host key to its MD5
// fingerprint, 32 hexadecimal digits (CURLOPT_SSH_HOST_PUBLIC_KEY_MD5).
func (e *Easy) SetSSHHostPublicKeyMD5(hex string) error {
	if hex != "" && len(hex) != 32 {
		return &InputError{What: "SSH host key MD5 fingerprint", Value: hex, Reason: "is not 32 hexadecimal digits"}
	}
	return e.setString(C.CURLOPT_SSH_HOST_PUBLIC_KEY_MD5, hex)
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}
