/* kaibiao: what sm4.c and gcm128.c take from OpenSSL's e_os2.h: the fixed-width integers and
 * ossl_inline (the real header's platform detection has no WebAssembly case). */
#include <stddef.h>
#include <stdint.h>
#define ossl_inline inline
