// A shared library that is not a plugin: no gillespike_plugin symbol.
extern "C" int some_function() { return 42; }
