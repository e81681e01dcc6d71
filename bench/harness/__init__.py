"""The benchmark's parts, one concept a module; bench/bench.py runs them in order.

- ``settings``: paths, command-line options, what a run is made of;
- ``processes``: free ports, process groups, their CPU time;
- ``stores``: the private redis-server and where each app keeps its sessions;
- ``servers``: how each app is started under uvicorn, Granian or its own server;
- ``catalogue``: the apps of the tables, each on its servers;
- ``client``: a cookie-keeping client, the 1, 2, 3 check, the cookie pool;
- ``load``: wrk, a timed run, and the interleaved comparison;
- ``sections``: which apps each section compares, and the scale section;
- ``monitor`` and ``profile``: the Redis commands of a request, and py-spy;
- ``tables``, ``targets``, ``machine``, ``report``, ``chart``: the outputs.
"""
