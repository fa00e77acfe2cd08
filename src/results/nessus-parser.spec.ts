import fc from 'fast-check';

import { NessusReportParser, parseNessusString } from './nessus-parser';
import type { Finding } from './finding';

/** The two-host example of NESSUS_API §8.2 (real plugin ids, paraphrased prose). */
const EXAMPLE = `<?xml version="1.0" encoding="UTF-8"?>
<NessusClientData_v2>
<Policy><policyName>Basic Network Scan</policyName>
<Preferences><ServerPreferences>
<preference><name>TARGET</name><value>192.0.2.10,192.0.2.20</value></preference>
<preference><name>scan_name</name><value>gw-job-1234</value></preference>
<preference><name>whoami</name><value>admin</value></preference>
<preference><name>wizard_uuid</name><value>731a8e52-3ea6-a291-ec0a-d2ff0619c19d7bd788d6be818b65</value></preference>
<preference><name>scan_start_timestamp</name><value>1735725600</value></preference>
<preference><name>scan_end_timestamp</name><value>1735726500</value></preference>
<preference><name>safe_checks</name><value>yes</value></preference>
<preference><name>port_range</name><value>default</value></preference>
</ServerPreferences>
<PluginsPreferences></PluginsPreferences>
</Preferences>
<FamilySelection><FamilyItem><FamilyName>General</FamilyName><Status>enabled</Status></FamilyItem></FamilySelection>
<IndividualPluginSelection></IndividualPluginSelection>
</Policy>
<Report name="gw-job-1234" xmlns:cm="http://www.nessus.org/cm">
<ReportHost name="192.0.2.10"><HostProperties>
<tag name="HOST_END_TIMESTAMP">1735726380</tag>
<tag name="HOST_END">Wed Jan  1 10:13:00 2025</tag>
<tag name="operating-system">Linux Kernel 5.15 on Ubuntu 22.04</tag>
<tag name="os">linux</tag>
<tag name="host-fqdn">web01.example.test</tag>
<tag name="hostname">web01</tag>
<tag name="Credentialed_Scan">false</tag>
<tag name="policy-used">Basic Network Scan</tag>
<tag name="host-ip">192.0.2.10</tag>
<tag name="HOST_START_TIMESTAMP">1735725610</tag>
<tag name="HOST_START">Wed Jan  1 10:00:10 2025</tag>
</HostProperties>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="0" pluginID="19506" pluginName="Nessus Scan Information" pluginFamily="Settings">
<description>This plugin displays, for each tested host, information about the scan itself.</description>
<plugin_name>Nessus Scan Information</plugin_name>
<plugin_publication_date>2005/08/26</plugin_publication_date>
<plugin_modification_date>2024/11/20</plugin_modification_date>
<plugin_type>summary</plugin_type>
<risk_factor>None</risk_factor>
<script_version>1.120</script_version>
<solution>n/a</solution>
<synopsis>This plugin displays information about the Nessus scan.</synopsis>
<plugin_output>Nessus version : 10.8.3
Scan type : Normal
Scan name : gw-job-1234
</plugin_output>
</ReportItem>
<ReportItem port="22" svc_name="ssh" protocol="tcp" severity="0" pluginID="10267" pluginName="SSH Server Type and Version Information" pluginFamily="Service detection">
<description>It is possible to obtain information about the remote SSH server by sending an empty authentication request.</description>
<plugin_name>SSH Server Type and Version Information</plugin_name>
<plugin_type>remote</plugin_type>
<risk_factor>None</risk_factor>
<solution>n/a</solution>
<synopsis>An SSH server is listening on this port.</synopsis>
<xref>IAVT:0001-T-0933</xref>
<plugin_output>SSH version : SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10</plugin_output>
</ReportItem>
<ReportItem port="443" svc_name="www" protocol="tcp" severity="2" pluginID="51192" pluginName="SSL Certificate Cannot Be Trusted" pluginFamily="General">
<cvss3_base_score>6.5</cvss3_base_score>
<cvss3_vector>CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N</cvss3_vector>
<cvss_base_score>6.4</cvss_base_score>
<cvss_vector>CVSS2#AV:N/AC:L/Au:N/C:P/I:P/A:N</cvss_vector>
<description>The server's X.509 certificate cannot be trusted.</description>
<plugin_name>SSL Certificate Cannot Be Trusted</plugin_name>
<plugin_type>remote</plugin_type>
<risk_factor>Medium</risk_factor>
<see_also>https://www.itu.int/rec/T-REC-X.509/en
https://en.wikipedia.org/wiki/X.509</see_also>
<solution>Purchase or generate a proper SSL certificate for this service.</solution>
<synopsis>The SSL certificate for this service cannot be trusted.</synopsis>
<plugin_output>The following certificate was at the top of the certificate chain sent by the remote host, but it is signed by an unknown certificate authority.</plugin_output>
</ReportItem>
</ReportHost>
<ReportHost name="192.0.2.20"><HostProperties>
<tag name="HOST_END">Wed Jan  1 10:14:40 2025</tag>
<tag name="operating-system">Microsoft Windows Server 2019</tag>
<tag name="os">windows</tag>
<tag name="netbios-name">FILESRV01</tag>
<tag name="mac-address">00:50:56:AA:BB:CC</tag>
<tag name="host-ip">192.0.2.20</tag>
<tag name="HOST_START">Wed Jan  1 10:00:12 2025</tag>
</HostProperties>
<ReportItem port="445" svc_name="cifs" protocol="tcp" severity="4" pluginID="97833" pluginName="MS17-010: Security Update for Microsoft Windows SMB Server (4013389) (ETERNALBLUE)" pluginFamily="Windows">
<cve>CVE-2017-0143</cve>
<cve>CVE-2017-0144</cve>
<cve>CVE-2017-0145</cve>
<cvss3_base_score>8.1</cvss3_base_score>
<cvss_base_score>9.3</cvss_base_score>
<description>The remote Windows host is affected by multiple remote code execution vulnerabilities in Microsoft Server Message Block 1.0 (SMBv1).</description>
<exploit_available>true</exploit_available>
<plugin_name>MS17-010: Security Update for Microsoft Windows SMB Server (4013389) (ETERNALBLUE)</plugin_name>
<plugin_type>remote</plugin_type>
<risk_factor>Critical</risk_factor>
<see_also>https://docs.microsoft.com/en-us/security-updates/SecurityBulletins/2017/ms17-010</see_also>
<solution>Apply the security update referenced in MS17-010.</solution>
<synopsis>The remote Windows host is affected by multiple vulnerabilities.</synopsis>
<xref>MSFT:MS17-010</xref>
<xref>IAVA:2017-A-0065</xref>
</ReportItem>
<ReportItem port="3389" svc_name="msrdp" protocol="tcp" severity="3" pluginID="18405" pluginName="Remote Desktop Protocol Server Man-in-the-Middle Weakness" pluginFamily="Windows">
<cve>CVE-2005-1794</cve>
<cvss_base_score>5.1</cvss_base_score>
<description>The remote version of the Remote Desktop Protocol Server is vulnerable to a man-in-the-middle attack.</description>
<plugin_name>Remote Desktop Protocol Server Man-in-the-Middle Weakness</plugin_name>
<plugin_type>remote</plugin_type>
<risk_factor>High</risk_factor>
<solution>Force the use of SSL as a transport layer for this service.</solution>
<synopsis>It may be possible to get access to the remote host.</synopsis>
<plugin_output>Remote Desktop Protocol supports non-TLS security.</plugin_output>
</ReportItem>
</ReportHost>
</Report>
</NessusClientData_v2>
`;

function parseInChunks(xml: string, cuts: number[]): Finding[] {
  const findings: Finding[] = [];
  const parser = new NessusReportParser({ finding: (f) => findings.push(f) });
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    parser.write(xml.slice(at, cut));
    at = cut;
  }
  parser.write(xml.slice(at));
  parser.end();
  return findings;
}

describe('streaming .nessus parser', () => {
  const { findings, hosts, metadata } = parseNessusString(EXAMPLE);

  it('yields one finding per ReportItem with host properties merged in', () => {
    expect(findings).toHaveLength(5);
    expect(hosts.map((h) => [h.host, h.findings])).toEqual([
      ['192.0.2.10', 3],
      ['192.0.2.20', 2],
    ]);
    expect(findings[2]).toMatchObject({
      host: '192.0.2.10',
      host_ip: '192.0.2.10',
      host_fqdn: 'web01.example.test',
      os: 'Linux Kernel 5.15 on Ubuntu 22.04',
      port: 443,
      protocol: 'tcp',
      service: 'www',
      plugin_id: 51192,
      plugin_family: 'General',
      severity: 2,
      severity_label: 'medium',
      risk_factor: 'Medium',
      cvss_base_score: 6.4,
      cvss_vector: 'CVSS2#AV:N/AC:L/Au:N/C:P/I:P/A:N',
      cvss3_base_score: 6.5,
      cvss3_vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N',
      cvss_score: 6.5,
      see_also: ['https://www.itu.int/rec/T-REC-X.509/en', 'https://en.wikipedia.org/wiki/X.509'],
      exploit_available: false,
    });
  });

  it('collects repeated elements into lists and reads typed values', () => {
    const eternalBlue = findings.find((f) => f.plugin_id === 97833)!;
    expect(eternalBlue).toMatchObject({
      severity_label: 'critical',
      cve: ['CVE-2017-0143', 'CVE-2017-0144', 'CVE-2017-0145'],
      xref: ['MSFT:MS17-010', 'IAVA:2017-A-0065'],
      exploit_available: true,
      cvss_score: 8.1,
      host_netbios_name: 'FILESRV01',
      host_mac_address: '00:50:56:AA:BB:CC',
      host_fqdn: null,
      plugin_output: null,
    });
    const rdp = findings.find((f) => f.plugin_id === 18405)!;
    expect(rdp.cvss_score).toBe(5.1);
  });

  it('reads scan metadata from the policy and report', () => {
    expect(metadata).toMatchObject({
      report_name: 'gw-job-1234',
      policy_name: 'Basic Network Scan',
      scan_name: 'gw-job-1234',
      targets: '192.0.2.10,192.0.2.20',
      scan_start: '1735725600',
    });
  });

  it('decodes entities and trims plugin output', () => {
    const xml = EXAMPLE.replace(
      '<plugin_output>SSH version : SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10</plugin_output>',
      '<plugin_output>\n\n  banner &lt;b&gt; &amp; &quot;x&quot;<![CDATA[ <raw> ]]>\n</plugin_output>',
    );
    const ssh = parseNessusString(xml).findings.find((f) => f.plugin_id === 10267)!;
    expect(ssh.plugin_output).toBe('banner <b> & "x" <raw>');
  });

  it('truncates long plugin output with a marker', () => {
    const long = 'A'.repeat(10_000);
    const xml = EXAMPLE.replace('Remote Desktop Protocol supports non-TLS security.', long);
    const rdp = parseNessusString(xml).findings.find((f) => f.plugin_id === 18405)!;
    expect(rdp.plugin_output).toBe('A'.repeat(4096) + '…[truncated 5904 bytes]');
  });

  it('keeps unrecognised ReportItem children for the full profile', () => {
    const xml = EXAMPLE.replace(
      '<plugin_type>remote</plugin_type>',
      '<plugin_type>remote</plugin_type><unsupported_by_vendor>true</unsupported_by_vendor>',
    );
    expect(parseNessusString(xml).findings[1].other).toEqual({ unsupported_by_vendor: 'true' });
  });

  it('gives the same findings whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: EXAMPLE.length }), { maxLength: 20 }), (cuts) => {
        expect(parseInChunks(EXAMPLE, cuts)).toEqual(findings);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses malformed XML and documents that are not exports', () => {
    expect(() => parseNessusString(EXAMPLE.slice(0, 2000) + '</Oops>')).toThrow();
    expect(() => parseNessusString('<html><body>login</body></html>')).toThrow(/not a .nessus export/);
  });
});
