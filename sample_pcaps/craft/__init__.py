"""The crafting library of trustwatch's sample captures and benchmark captures.

Everything here is a pure function of its arguments: no wall clock, no os.urandom, no
random.Random. Random-looking bytes come from SHAKE-256 over a label (`fixed`), keys are fixed
(`keys`: public test keys, for test captures only), certificate dates are fixed and signatures
deterministic (`certs`). Running a generator twice therefore writes the same bytes.

Layers, bottom up: `fixed`, `keys`; `certs`, `hospital_pki`; `link`, `capture`, `flows`
(hosts, framings, TCP and UDP into a capture); `tls`, `tls_profiles`, `tls_connection`; the
protocols' conversations (`cleartext`, `web`, `tokens`, `windows_auth`, `ber`, `snmp`, `sip`,
`clinical`, `remote`, `addressing`). sample_pcaps/README.md says what each module makes.
"""
