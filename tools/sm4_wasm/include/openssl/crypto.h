/* kaibiao: what gcm128.c takes from OpenSSL's crypto.h. CRYPTO_memcmp is OpenSSL's own, from
 * crypto/cpuid.c (its C version, for platforms without an assembler one). The module has no heap:
 * CRYPTO_gcm128_new and _release, which the shim never calls, get none (the linker drops them). */
#include <openssl/e_os2.h>
int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len);
#define OPENSSL_malloc(num) ((void *)0)
#define OPENSSL_clear_free(addr, num) ((void)(addr), (void)(num))
