package curlpoll

// #include <stdlib.h>
import "C"

import "unsafe"

// nextCString steps through a NULL-terminated array of C strings.
func nextCString(p **C.char) **C.char {
	return (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(p)))
}
