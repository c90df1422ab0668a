package curlpoll

// #include "shim.h"
import "C"

// UseSSL says how much of an FTP (also SMTP, IMAP, POP3) session must run
// over TLS when the URL's scheme does not say so (CURLOPT_USE_SSL): explicit
// TLS, started with AUTH TLS or STARTTLS on the plain connection.
type UseSSL int

// Values for SetUseSSL (CURLUSESSL_*).
const (
	UseSSLNone    UseSSL = C.CURLUSESSL_NONE    // CURLUSESSL_NONE: plain text, the default
	UseSSLTry     UseSSL = C.CURLUSESSL_TRY     // CURLUSESSL_TRY: TLS if the server agrees, else plain text: no protection against an attacker on the path
	UseSSLControl UseSSL = C.CURLUSESSL_CONTROL // CURLUSESSL_CONTROL: TLS for the control connection or fail; FTP data connections may stay plain
	UseSSLAll     UseSSL = C.CURLUSESSL_ALL     // CURLUSESSL_ALL: TLS for every connection or fail
)

// SetUseSSL asks for TLS on a protocol that starts in plain text
// (CURLOPT_USE_SSL): FTP (explicit FTPS), SMTP, IMAP, POP3. With
// UseSSLControl or UseSSLAll a server that refuses TLS fails the transfer
// before any credential or data is sent. The certificate is verified as for
// HTTPS (SetVerifyPeer, SetCAInfo).
func (e *Easy) SetUseSSL(level UseSSL) error {
	return e.setLong(C.CURLOPT_USE_SSL, int64(level))
}

// SetFTPPort makes FTP transfers use active mode (CURLOPT_FTPPORT): the
// server connects back to the address given, an interface name, an IP
// address or host name, optionally with ":port" or ":low-high", or "-" for
// the control connection's local address. "" restores passive mode, the
// default.
func (e *Easy) SetFTPPort(addr string) error {
	if err := checkLine("FTP port", addr); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_FTPPORT, addr)
}

// SetQuote sets raw FTP commands (SFTP: libcurl's SFTP quote commands) sent
// after login, before the transfer (CURLOPT_QUOTE). A command that fails
// fails the transfer, unless it starts with "*". nil clears the list. A
// command with a CR or LF is refused: it would smuggle in another command.
func (e *Easy) SetQuote(cmds []string) error { return e.setCommands(C.CURLOPT_QUOTE, cmds) }

// SetPostQuote sets raw FTP or SFTP commands sent after the transfer
// (CURLOPT_POSTQUOTE), as SetQuote.
func (e *Easy) SetPostQuote(cmds []string) error {
	return e.setCommands(C.CURLOPT_POSTQUOTE, cmds)
}

// SetPreQuote sets raw FTP commands sent after the transfer type is set,
// just before the transfer command (CURLOPT_PREQUOTE), as SetQuote.
func (e *Easy) SetPreQuote(cmds []string) error { return e.setCommands(C.CURLOPT_PREQUOTE, cmds) }

func (e *Easy) setCommands(opt C.CURLoption, cmds []string) error {
	for _, c := range cmds {
		if err := checkLine("command", c); err != nil {
			return err
		}
	}
	return e.setList(opt, cmds)
}

// SetFTPUseEPSV turns the EPSV command for passive FTP on or off
// (CURLOPT_FTP_USE_EPSV); on by default, with PASV as the fallback.
func (e *Easy) SetFTPUseEPSV(on bool) error { return e.setBool(C.CURLOPT_FTP_USE_EPSV, on) }

// SetFTPUseEPRT turns the EPRT command for active FTP on or off
// (CURLOPT_FTP_USE_EPRT); on by default, with PORT as the fallback.
func (e *Easy) SetFTPUseEPRT(on bool) error { return e.setBool(C.CURLOPT_FTP_USE_EPRT, on) }

// FTPCreateDirs says whether an FTP or SFTP upload creates the directories
// of its path that are missing (CURLOPT_FTP_CREATE_MISSING_DIRS).
type FTPCreateDirs int

// Values for SetFTPCreateMissingDirs (CURLFTP_CREATE_DIR_*).
const (
	FTPCreateDirNone  FTPCreateDirs = C.CURLFTP_CREATE_DIR_NONE  // CURLFTP_CREATE_DIR_NONE: fail on a missing directory, the default
	FTPCreateDir      FTPCreateDirs = C.CURLFTP_CREATE_DIR       // CURLFTP_CREATE_DIR: MKD the missing directories
	FTPCreateDirRetry FTPCreateDirs = C.CURLFTP_CREATE_DIR_RETRY // CURLFTP_CREATE_DIR_RETRY: as FTPCreateDir, and retry CWD once if MKD failed (another client made it)
)

// SetFTPCreateMissingDirs makes uploads create the missing directories of
// their path (CURLOPT_FTP_CREATE_MISSING_DIRS).
func (e *Easy) SetFTPCreateMissingDirs(mode FTPCreateDirs) error {
	return e.setLong(C.CURLOPT_FTP_CREATE_MISSING_DIRS, int64(mode))
}

// SetDirListOnly makes a directory URL (ending in "/") list names only
// (CURLOPT_DIRLISTONLY): FTP's NLST instead of LIST, for SFTP names without
// attributes.
func (e *Easy) SetDirListOnly(on bool) error { return e.setBool(C.CURLOPT_DIRLISTONLY, on) }

// SetAppend makes an FTP or SFTP upload append to the remote file instead
// of replacing it (CURLOPT_APPEND).
func (e *Easy) SetAppend(on bool) error { return e.setBool(C.CURLOPT_APPEND, on) }

// SetFTPSkipPASVIP makes libcurl connect passive FTP data connections to
// the control connection's address, ignoring the address a PASV reply
// names (CURLOPT_FTP_SKIP_PASV_IP); on by default since libcurl 7.74.0.
func (e *Easy) SetFTPSkipPASVIP(on bool) error { return e.setBool(C.CURLOPT_FTP_SKIP_PASV_IP, on) }

// checkLine refuses a value that libcurl sends inside a protocol command
// line when it holds a CR, an LF or a NUL: it would end the command early
// and start another one of the caller's input.
func checkLine(what, s string) error {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0:
			return &InputError{What: what, Value: s, Reason: "contains a CR, LF or NUL byte"}
		}
	}
	return nil
}
