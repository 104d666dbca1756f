# Read by ctest after the live tests' discovery (TEST_INCLUDE_FILES): the tests that load the
# machine for long or race the scheduler run alone under `ctest -j`, so that their neighbours
# neither slow them nor are slowed by them. So does the memfd_secret test: a released secretmem
# is found by scanning /proc, and is conservatively kept counted while any unix socket on the
# machine has data queued (docs/memory-quotas.md), which a neighbour's sockets can make true
# (it failed so once in the TSan stage). So does the fs.protected_symlinks test: it turns that
# machine-wide sysctl on for its run.
foreach(test IN LISTS warden_live_tests_unotify warden_live_tests_ptrace)
  if(test MATCHES "for 30 s under quotas|over 100000 memfds|SIGCONT as soon as|every flag combination|memfd_secret goes through|leave no parent stopped|control: without the supervisor|control: its loop|protected_symlinks")
    set_tests_properties("${test}" PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()
