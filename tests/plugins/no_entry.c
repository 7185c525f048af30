/* no_entry.c: TEST-ONLY shared object without coop_plugin_enum. */
__attribute__((visibility("default"))) int not_a_plugin(void);
int not_a_plugin(void) { return 42; }
