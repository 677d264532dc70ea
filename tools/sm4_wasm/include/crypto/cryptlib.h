/* kaibiao: crypto/cpuid.c's internal crypto/cryptlib.h; its portable part (CRYPTO_memcmp and
 * do-nothing CPU-feature stubs) needs only the integer types. */
#include <openssl/e_os2.h>
