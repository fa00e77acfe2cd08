/** Editor templates (NESSUS_API.md §3.1); UUIDs are fixed across real installs. */
export const SCAN_TEMPLATES = [
  [
    'basic',
    'Basic Network Scan',
    '731a8e52-3ea6-a291-ec0a-d2ff0619c19d7bd788d6be818b65',
    'A full system scan suitable for any host.',
  ],
  [
    'advanced',
    'Advanced Scan',
    'ad629e16-03b6-8c1d-cef6-ef8c9dd3c658d24bd260ef5f9e66',
    'Configure a scan without using any recommendations.',
  ],
  [
    'discovery',
    'Host Discovery',
    'bbd4f805-3966-d464-b2d1-0079eb89d69708c3a05ec2812bcf',
    'A simple scan to discover live hosts and open ports.',
  ],
  [
    'custom',
    'Custom Scan',
    'ab4bacd2-05f6-425c-9d79-3ba3940ad1c24e51e1f403febe40',
    'Create a scan using a previously defined policy.',
  ],
  [
    'patch_audit',
    'Credentialed Patch Audit',
    '0625147c-30fe-d79f-e54f-ce7ccd7523e9b63d84cb81c23c2f',
    'Authenticate to hosts and enumerate missing updates.',
  ],
  [
    'webapp',
    'Web Application Tests',
    'c3cbcd46-329f-a9ed-1077-554f8c2af33d0d44f09d736969bf',
    'Scan for published and unknown web vulnerabilities.',
  ],
].map(([name, title, uuid, desc], order) => ({
  unsupported: false,
  license_fulfilled: 1,
  desc,
  order: order + 1,
  subscription_only: false,
  title,
  is_agent: false,
  uuid,
  dynamic_scan: false,
  icon: '',
  manager_only: false,
  category: 'Vulnerabilities',
  name,
}));

export const FOLDERS = [
  { unread_count: null, custom: 0, default_tag: 0, type: 'trash', name: 'Trash', id: 2 },
  { unread_count: 0, custom: 0, default_tag: 1, type: 'main', name: 'My Scans', id: 3 },
];

export const PRODUCT = {
  uiVersion: '10.8.3',
  uiBuild: '20010',
  serverVersion: '19.7.2',
  type: 'Nessus Professional',
};
