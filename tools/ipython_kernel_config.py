# Configuration of the kernels that execute the book's pages (`make` points IPYTHONDIR at a
# copy under _build/ipython). ipykernel 7 logs "Kernel is running over TCP without encryption"
# at every kernel start: the kernels of a build talk to their client over loopback on the
# build machine, so that line is noise a maintainer would learn to ignore in every log. Only the
# kernel application's own log is raised to errors: warnings raised by a page's code still reach
# its cell outputs, where the build and nbval fail on them.
c.IPKernelApp.log_level = "ERROR"  # noqa: F821 - `c` is the config object IPython provides
c.HistoryManager.enabled = False  # noqa: F821 - no history database under _build
