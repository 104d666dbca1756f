/* warden_payload: a shared library the hardening tests copy into a memfd and dlopen from
 * /proc/self/fd/N. If the loader maps it executable, this answers 42. */
int warden_payload_answer(void) { return 42; }
