package curlpoll

// #include "shim.h"
import "C"

// SetMailFrom sets the sender address of an SMTP mail, as in MAIL FROM
// (CURLOPT_MAIL_FROM), with or without angle brackets: "<a@example.com>".
func (e *Easy) SetMailFrom(addr string) error {
	if err := checkLine("mail sender", addr); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_MAIL_FROM, addr)
}

// SetMailRecipients sets the recipients of an SMTP mail, one RCPT TO each
// (CURLOPT_MAIL_RCPT). A mail (an SMTP transfer with SetUpload or
// SetMIMEPost) without recipients fails with ErrNoRecipients before
// connecting: libcurl would otherwise send a HELP command and report
// success with nothing sent. nil clears the list.
func (e *Easy) SetMailRecipients(addrs []string) error {
	for _, a := range addrs {
		if err := checkLine("mail recipient", a); err != nil {
			return err
		}
		if a == "" {
			return &InputError{What: "mail recipient", Reason: "is empty"}
		}
	}
	return e.setList(C.CURLOPT_MAIL_RCPT, addrs)
}

// SetMailAuth sets the AUTH parameter of MAIL FROM, the address the mail is
// submitted on behalf of, for a relay between trusted servers
// (CURLOPT_MAIL_AUTH); "<>" for none.
func (e *Easy) SetMailAuth(addr string) error {
	if err := checkLine("mail auth", addr); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_MAIL_AUTH, addr)
}
