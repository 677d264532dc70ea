/* kaibiao: the module has no C library. gcm128.c's memcpy and memset are compiler builtins, which
 * clang lowers to WebAssembly's memory.copy and memory.fill (-mbulk-memory); a call it could not
 * lower would be an undefined symbol, and the link fails. */
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
