"""Adopting an existing nginx config (`nginxgen import`): its servers grouped into sites
(`sites`), each site converted into environment-file data with everything not converted listed
(`convert` for the whole config, `site_converter` for one site, `handlers` for the directive
tables, `conversion_state` for what they share), the YAML text written (`write`), the
original and the rendered output compared semantically (`compare`), and both run in real nginx
with echo backends (`verify`, the only module that uses Docker).

May import `nginxgen.core`, `nginxgen.nginx` (the parser, raw-directive check, placeholder
certificates), `nginxgen.lint` and `nginxgen.generation` (the models the output must satisfy).
"""
