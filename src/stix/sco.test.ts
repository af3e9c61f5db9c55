import { describe } from 'node:test';
import { acceptCases, rejectCases } from './testing/cases.ts';
import { idOf, withProperties } from './testing/fixtures.ts';

const MD5 = 'a92e5b2bae0b4b3a3d81c85610b95cd4';
const SHA256 = 'effb46bba03f6c8aea5c653f9cf984f170dcdd3bbbe2ff6843c3e5da0e698766';

describe('artifact', () => {
  rejectCases([
    {
      name: 'payload_bin and url',
      object: withProperties('artifact', {
        url: 'https://a.example/x',
        hashes: { 'SHA-256': SHA256 },
      }),
      rule: 'exclusive',
      property: 'url',
    },
    {
      name: 'neither payload_bin nor url',
      object: withProperties('artifact', { payload_bin: undefined, mime_type: 'image/jpeg' }),
      rule: 'at-least-one',
    },
    {
      name: 'truncated base64',
      object: withProperties('artifact', { payload_bin: 'VBORw0KGgoAAAANSUhEUgAAADI== ...' }),
      rule: 'format',
      property: 'payload_bin',
    },
    {
      name: 'base64 without padding',
      object: withProperties('artifact', { payload_bin: 'aGVsbG8' }),
      rule: 'format',
    },
    {
      name: 'base64 with newline',
      object: withProperties('artifact', { payload_bin: 'aGVs\nbG8=' }),
      rule: 'format',
    },
    {
      name: 'base64 url alphabet',
      object: withProperties('artifact', { payload_bin: 'a-_b' }),
      rule: 'format',
    },
    {
      name: 'empty payload',
      object: withProperties('artifact', { payload_bin: '' }),
      rule: 'format',
    },
    {
      name: 'url without hashes',
      object: withProperties('artifact', { payload_bin: undefined, url: 'https://a.example/x' }),
      rule: 'dependency',
      property: 'url',
    },
    {
      name: 'decryption_key alone',
      object: withProperties('artifact', { decryption_key: 'secret' }),
      rule: 'dependency',
      property: 'decryption_key',
    },
    {
      name: 'unknown encryption',
      object: withProperties('artifact', { encryption_algorithm: 'rot13' }),
      rule: 'enum',
      property: 'encryption_algorithm',
    },
  ]);
  acceptCases([
    {
      name: 'url with hashes',
      object: withProperties('artifact', {
        payload_bin: undefined,
        url: 'https://a.example/x',
        hashes: { 'SHA-256': SHA256 },
      }),
    },
    {
      name: 'encrypted with key',
      object: withProperties('artifact', {
        encryption_algorithm: 'mime-type-indicated',
        decryption_key: 'infected',
        mime_type: 'application/zip',
      }),
    },
  ]);
});

describe('file and hashes', () => {
  const file = (changes: Record<string, unknown>): Record<string, unknown> =>
    withProperties('file', changes);
  rejectCases([
    {
      name: 'neither hashes nor name',
      object: file({ name: undefined, size: 10 }),
      rule: 'at-least-one',
    },
    { name: 'negative size', object: file({ size: -1 }), rule: 'range', property: 'size' },
    {
      name: 'short MD5',
      object: file({ hashes: { MD5: 'abc' } }),
      rule: 'hashes',
      property: 'hashes.MD5',
    },
    {
      name: 'MD5 with non-hex',
      object: file({ hashes: { MD5: `${MD5.slice(0, 31)}g` } }),
      rule: 'hashes',
    },
    {
      name: 'SHA-1 of SHA-256 length',
      object: file({ hashes: { 'SHA-1': SHA256 } }),
      rule: 'hashes',
    },
    { name: 'SHA-512 short', object: file({ hashes: { 'SHA-512': SHA256 } }), rule: 'hashes' },
    { name: 'SHA3-256 short', object: file({ hashes: { 'SHA3-256': MD5 } }), rule: 'hashes' },
    { name: 'TLSH short', object: file({ hashes: { TLSH: 'T1ABC' } }), rule: 'hashes' },
    {
      name: 'SSDEEP without blocksize',
      object: file({ hashes: { SSDEEP: 'abc:def' } }),
      rule: 'hashes',
    },
    {
      name: 'hash key too short',
      object: file({ hashes: { md: MD5 } }),
      rule: 'hashes',
      property: 'hashes.md',
    },
    { name: 'hash key with dot', object: file({ hashes: { 'sha.256': SHA256 } }), rule: 'hashes' },
    { name: 'hash number', object: file({ hashes: { MD5: 1234 } }), rule: 'type' },
    { name: 'hashes empty', object: file({ hashes: {} }), rule: 'empty', property: 'hashes' },
    {
      name: 'name_enc without name',
      object: file({ name: undefined, hashes: { MD5 }, name_enc: 'windows-1252' }),
      rule: 'dependency',
      property: 'name_enc',
    },
    {
      name: 'parent_directory_ref to file',
      object: file({ parent_directory_ref: idOf('file') }),
      rule: 'ref-type',
    },
    { name: 'content_ref to file', object: file({ content_ref: idOf('file') }), rule: 'ref-type' },
    {
      name: 'magic number not hex',
      object: file({ magic_number_hex: 'PK' }),
      rule: 'format',
      property: 'magic_number_hex',
    },
    {
      name: 'mtime not timestamp',
      object: file({ mtime: '2016-02-30T00:00:00Z' }),
      rule: 'timestamp',
    },
    {
      name: 'archive without contains_refs',
      object: file({ extensions: { 'archive-ext': { comment: 'x' } } }),
      rule: 'required',
      property: 'extensions.archive-ext.contains_refs',
    },
    {
      name: 'archive contains ipv4',
      object: file({ extensions: { 'archive-ext': { contains_refs: [idOf('ipv4-addr')] } } }),
      rule: 'ref-type',
    },
    {
      name: 'empty ntfs-ext',
      object: file({ extensions: { 'ntfs-ext': {} } }),
      rule: 'at-least-one',
      property: 'extensions.ntfs-ext',
    },
    {
      name: 'stream without name',
      object: file({ extensions: { 'ntfs-ext': { alternate_data_streams: [{ size: 1 }] } } }),
      rule: 'required',
    },
    {
      name: 'pe with only pe_type',
      object: file({ extensions: { 'windows-pebinary-ext': { pe_type: 'exe' } } }),
      rule: 'at-least-one',
    },
    {
      name: 'pe time with fraction',
      object: file({
        extensions: {
          'windows-pebinary-ext': { pe_type: 'exe', time_date_stamp: '2016-01-22T12:31:12.5Z' },
        },
      }),
      rule: 'timestamp-precision',
    },
    {
      name: 'pe empty optional header',
      object: file({
        extensions: { 'windows-pebinary-ext': { pe_type: 'exe', optional_header: {} } },
      }),
      rule: 'at-least-one',
    },
    {
      name: 'pe section without name',
      object: file({
        extensions: { 'windows-pebinary-ext': { pe_type: 'dll', sections: [{ size: 1 }] } },
      }),
      rule: 'required',
    },
    {
      name: 'exif value boolean',
      object: file({ extensions: { 'raster-image-ext': { exif_tags: { Make: true } } } }),
      rule: 'type',
    },
    {
      name: 'pdf info value number',
      object: file({ extensions: { 'pdf-ext': { document_info_dict: { Title: 1 } } } }),
      rule: 'type',
    },
  ]);
  acceptCases([
    {
      name: 'all standard hashes',
      object: file({
        hashes: {
          MD5,
          'SHA-1': '5374e08903744ceeaedd8f5e1bfc06b2c4688e76',
          'SHA-256': SHA256,
          'SHA-512': 'a'.repeat(128),
          'SHA3-256': 'b'.repeat(64),
          'SHA3-512': 'c'.repeat(128),
        },
      }),
    },
    { name: 'upper-case digest', object: file({ hashes: { MD5: MD5.toUpperCase() } }) },
    { name: 'TLSH plain', object: file({ hashes: { TLSH: 'a'.repeat(70) } }) },
    { name: 'TLSH with T1', object: file({ hashes: { TLSH: `T1${'B'.repeat(70)}` } }) },
    {
      name: 'SSDEEP',
      object: file({
        hashes: { SSDEEP: '3072:Cut8EQYo0HtkDaCmKKaYMP1pMbKBqr:Cut8EQYo0HtkDaYYMtS' },
      }),
    },
    {
      name: 'custom hash',
      object: file({ hashes: { x_foo_hash: 'aaaabbbbccccddddeeeeffff0123457890' } }),
    },
    { name: 'upper-case magic number', object: file({ magic_number_hex: '504B0304' }) },
    {
      name: 'full PE',
      object: file({
        extensions: {
          'windows-pebinary-ext': {
            pe_type: 'exe',
            machine_hex: '014c',
            time_date_stamp: '2016-01-22T12:31:12Z',
            optional_header: { magic_hex: '010b', size_of_code: 512 },
            sections: [{ name: '.text', entropy: 6.5 }],
          },
        },
      }),
    },
    {
      name: 'unicode name with encoding',
      object: file({ name: 'quêry.dll', name_enc: 'windows-1252' }),
    },
  ]);
});

describe('addresses', () => {
  rejectCases([
    {
      name: 'ipv4 octet 256',
      object: withProperties('ipv4-addr', { value: '256.1.1.1' }),
      rule: 'format',
      property: 'value',
    },
    {
      name: 'ipv4 leading zero',
      object: withProperties('ipv4-addr', { value: '01.2.3.4' }),
      rule: 'format',
    },
    {
      name: 'ipv4 prefix 33',
      object: withProperties('ipv4-addr', { value: '10.0.0.0/33' }),
      rule: 'format',
    },
    {
      name: 'ipv4 three octets',
      object: withProperties('ipv4-addr', { value: '10.0.0' }),
      rule: 'format',
    },
    {
      name: 'ipv4 given an ipv6',
      object: withProperties('ipv4-addr', { value: '2001:db8::1' }),
      rule: 'format',
    },
    {
      name: 'ipv4 resolves_to domain',
      object: withProperties('ipv4-addr', { resolves_to_refs: [idOf('domain-name')] }),
      rule: 'ref-type',
    },
    {
      name: 'ipv6 prefix 129',
      object: withProperties('ipv6-addr', { value: '2001:db8::/129' }),
      rule: 'format',
    },
    {
      name: 'ipv6 two gaps',
      object: withProperties('ipv6-addr', { value: '2001::db8::1' }),
      rule: 'format',
    },
    {
      name: 'ipv6 nine groups',
      object: withProperties('ipv6-addr', { value: '1:2:3:4:5:6:7:8:9' }),
      rule: 'format',
    },
    {
      name: 'ipv6 zone',
      object: withProperties('ipv6-addr', { value: 'fe80::1%eth0' }),
      rule: 'format',
    },
    {
      name: 'ipv6 five-digit group',
      object: withProperties('ipv6-addr', { value: '2001:db8::12345' }),
      rule: 'format',
    },
    {
      name: 'mac upper case',
      object: withProperties('mac-addr', { value: 'D2:FB:49:24:37:18' }),
      rule: 'format',
    },
    {
      name: 'mac hyphens',
      object: withProperties('mac-addr', { value: 'd2-fb-49-24-37-18' }),
      rule: 'format',
    },
    {
      name: 'mac no leading zero',
      object: withProperties('mac-addr', { value: '0:0:ab:cd:ef:1' }),
      rule: 'format',
    },
    {
      name: 'domain leading hyphen',
      object: withProperties('domain-name', { value: '-bad.example.com' }),
      rule: 'format',
    },
    {
      name: 'domain with space',
      object: withProperties('domain-name', { value: 'exa mple.com' }),
      rule: 'format',
    },
    {
      name: 'domain 64-character label',
      object: withProperties('domain-name', { value: `${'a'.repeat(64)}.com` }),
      rule: 'format',
    },
    {
      name: 'domain empty label',
      object: withProperties('domain-name', { value: 'a..com' }),
      rule: 'format',
    },
    {
      name: 'domain wildcard',
      object: withProperties('domain-name', { value: '*.example.com' }),
      rule: 'format',
    },
    {
      name: 'domain resolves to file',
      object: withProperties('domain-name', { resolves_to_refs: [idOf('file')] }),
      rule: 'ref-type',
    },
    {
      name: 'email without at',
      object: withProperties('email-addr', { value: 'john.example.com' }),
      rule: 'format',
    },
    {
      name: 'email with display name',
      object: withProperties('email-addr', { value: 'John <john@example.com>' }),
      rule: 'format',
    },
    {
      name: 'email double dot',
      object: withProperties('email-addr', { value: 'john..doe@example.com' }),
      rule: 'format',
    },
    {
      name: 'email belongs to identity',
      object: withProperties('email-addr', { belongs_to_ref: idOf('identity') }),
      rule: 'ref-type',
    },
    {
      name: 'url without scheme',
      object: withProperties('url', { value: 'example.com/index.html' }),
      rule: 'format',
      property: 'value',
    },
    {
      name: 'url with space',
      object: withProperties('url', { value: 'http://exa mple.com/' }),
      rule: 'format',
    },
    {
      name: 'url bad escape',
      object: withProperties('url', { value: 'https://example.com/%zz' }),
      rule: 'format',
    },
    {
      name: 'url non-ASCII',
      object: withProperties('url', { value: 'https://bücher.de/' }),
      rule: 'format',
    },
    {
      name: 'url bad port',
      object: withProperties('url', { value: 'https://example.com:80a/' }),
      rule: 'format',
    },
  ]);
  acceptCases([
    { name: 'ipv4 CIDR', object: withProperties('ipv4-addr', { value: '198.51.100.0/24' }) },
    { name: 'ipv4 zero prefix', object: withProperties('ipv4-addr', { value: '0.0.0.0/0' }) },
    {
      name: 'ipv6 full form',
      object: withProperties('ipv6-addr', { value: '2001:0db8:85a3:0000:0000:8a2e:0370:7334' }),
    },
    { name: 'ipv6 CIDR', object: withProperties('ipv6-addr', { value: '2001:0db8::/96' }) },
    { name: 'ipv6 unspecified', object: withProperties('ipv6-addr', { value: '::' }) },
    {
      name: 'ipv6 mapped ipv4',
      object: withProperties('ipv6-addr', { value: '::ffff:198.51.100.1' }),
    },
    { name: 'domain IDN', object: withProperties('domain-name', { value: 'bücher.example' }) },
    {
      name: 'domain punycode',
      object: withProperties('domain-name', { value: 'xn--bcher-kva.example' }),
    },
    {
      name: 'domain trailing dot',
      object: withProperties('domain-name', { value: 'example.com.' }),
    },
    {
      name: 'domain CNAME',
      object: withProperties('domain-name', {
        resolves_to_refs: [idOf('domain-name'), idOf('ipv6-addr')],
      }),
    },
    {
      name: 'email plus tag',
      object: withProperties('email-addr', {
        value: 'jane.smith+tag@mail.example.com',
        display_name: 'Jane Smith',
      }),
    },
    {
      name: 'email quoted local part',
      object: withProperties('email-addr', { value: '"john doe"@example.com' }),
    },
    {
      name: 'url with credentials and port',
      object: withProperties('url', { value: 'ftp://user:pass@ftp.example.com:2121/pub/file.txt' }),
    },
    { name: 'url mailto', object: withProperties('url', { value: 'mailto:john@example.com' }) },
  ]);
});

describe('network-traffic', () => {
  rejectCases([
    {
      name: 'no endpoint',
      object: withProperties('network-traffic', { dst_ref: undefined }),
      rule: 'at-least-one',
    },
    {
      name: 'port 65536',
      object: withProperties('network-traffic', { dst_port: 65536 }),
      rule: 'range',
      property: 'dst_port',
    },
    {
      name: 'port negative',
      object: withProperties('network-traffic', { src_port: -1 }),
      rule: 'range',
    },
    {
      name: 'active with end',
      object: withProperties('network-traffic', { is_active: true, end: '2020-01-01T00:00:00Z' }),
      rule: 'exclusive',
      property: 'end',
    },
    {
      name: 'end before start',
      object: withProperties('network-traffic', {
        start: '2020-01-02T00:00:00Z',
        end: '2020-01-01T00:00:00Z',
      }),
      rule: 'time-order',
      property: 'end',
    },
    {
      name: 'src_ref to file',
      object: withProperties('network-traffic', { src_ref: idOf('file') }),
      rule: 'ref-type',
      property: 'src_ref',
    },
    {
      name: 'protocols empty',
      object: withProperties('network-traffic', { protocols: [] }),
      rule: 'empty',
    },
    {
      name: 'payload to file',
      object: withProperties('network-traffic', { src_payload_ref: idOf('file') }),
      rule: 'ref-type',
    },
    {
      name: 'ipfix boolean',
      object: withProperties('network-traffic', { ipfix: { minimumIpTotalLength: true } }),
      rule: 'type',
    },
    {
      name: 'socket family unknown',
      object: withProperties('network-traffic', {
        extensions: { 'socket-ext': { address_family: 'AF_MAGIC' } },
      }),
      rule: 'enum',
    },
    {
      name: 'socket without family',
      object: withProperties('network-traffic', {
        extensions: { 'socket-ext': { is_listening: true } },
      }),
      rule: 'required',
    },
    {
      name: 'socket option string',
      object: withProperties('network-traffic', {
        extensions: { 'socket-ext': { address_family: 'AF_INET', options: { SO_TEST: 'on' } } },
      }),
      rule: 'type',
    },
    {
      name: 'http header as string',
      object: withProperties('network-traffic', {
        extensions: {
          'http-request-ext': {
            request_method: 'get',
            request_value: '/',
            request_header: { Host: 'www.example.com' },
          },
        },
      }),
      rule: 'type',
    },
    {
      name: 'http without method',
      object: withProperties('network-traffic', {
        extensions: { 'http-request-ext': { request_value: '/' } },
      }),
      rule: 'required',
    },
    {
      name: 'icmp not hex',
      object: withProperties('network-traffic', {
        extensions: { 'icmp-ext': { icmp_type_hex: '8', icmp_code_hex: '00' } },
      }),
      rule: 'format',
    },
    {
      name: 'empty tcp-ext',
      object: withProperties('network-traffic', { extensions: { 'tcp-ext': {} } }),
      rule: 'at-least-one',
    },
  ]);
  acceptCases([
    {
      name: 'inactive with end',
      object: withProperties('network-traffic', {
        is_active: false,
        start: '2020-01-01T00:00:00Z',
        end: '2020-01-01T00:00:00Z',
      }),
    },
    {
      name: 'http request',
      object: withProperties('network-traffic', {
        extensions: {
          'http-request-ext': {
            request_method: 'get',
            request_value: '/download.html',
            request_header: { 'Accept-Encoding': ['gzip,deflate'] },
          },
        },
      }),
    },
    {
      name: 'socket',
      object: withProperties('network-traffic', {
        extensions: {
          'socket-ext': {
            address_family: 'AF_INET',
            socket_type: 'SOCK_STREAM',
            options: { SO_ACCEPTCONN: 1 },
          },
        },
      }),
    },
  ]);
});

describe('email-message', () => {
  rejectCases([
    {
      name: 'multipart with body',
      object: withProperties('email-message', { is_multipart: true, body: 'hello' }),
      rule: 'exclusive',
      property: 'body',
    },
    {
      name: 'single part with parts',
      object: withProperties('email-message', { body_multipart: [{ body: 'a' }] }),
      rule: 'exclusive',
      property: 'body_multipart',
    },
    {
      name: 'from_ref to ipv4',
      object: withProperties('email-message', { from_ref: idOf('ipv4-addr') }),
      rule: 'ref-type',
      property: 'from_ref',
    },
    {
      name: 'to_refs to identity',
      object: withProperties('email-message', { to_refs: [idOf('identity')] }),
      rule: 'ref-type',
    },
    {
      name: 'part without body',
      object: withProperties('email-message', {
        is_multipart: true,
        body_multipart: [{ content_type: 'text/plain' }],
      }),
      rule: 'at-least-one',
    },
    {
      name: 'part raw ref to url',
      object: withProperties('email-message', {
        is_multipart: true,
        body_multipart: [{ body_raw_ref: idOf('url') }],
      }),
      rule: 'ref-type',
    },
    {
      name: 'header value number',
      object: withProperties('email-message', { additional_header_fields: { 'X-Mailer': 5 } }),
      rule: 'type',
    },
    {
      name: 'header key with colon',
      object: withProperties('email-message', { additional_header_fields: { 'X:Mailer': 'a' } }),
      rule: 'dictionary-key',
    },
    {
      name: 'date not timestamp',
      object: withProperties('email-message', { date: 'Tue, 19 Jul 2016 07:20:40 -0700' }),
      rule: 'timestamp',
    },
  ]);
  acceptCases([
    {
      name: 'multipart',
      object: withProperties('email-message', {
        is_multipart: true,
        body_multipart: [
          { body: 'hi', content_type: 'text/plain' },
          { body_raw_ref: idOf('artifact') },
        ],
      }),
    },
    {
      name: 'repeated header',
      object: withProperties('email-message', {
        additional_header_fields: { Received: ['a', 'b'], 'X-Mailer': 'Mutt/1.5.23' },
      }),
    },
  ]);
});

describe('process, software, accounts, registry, certificates', () => {
  rejectCases([
    {
      name: 'process without properties',
      object: withProperties('process', { pid: undefined }),
      rule: 'at-least-one',
    },
    {
      name: 'process parent is file',
      object: withProperties('process', { parent_ref: idOf('file') }),
      rule: 'ref-type',
    },
    {
      name: 'process env number',
      object: withProperties('process', { environment_variables: { PATH: 1 } }),
      rule: 'type',
    },
    {
      name: 'integrity level unknown',
      object: withProperties('process', {
        extensions: { 'windows-process-ext': { integrity_level: 'ultra' } },
      }),
      rule: 'enum',
    },
    {
      name: 'service type unknown',
      object: withProperties('process', {
        extensions: { 'windows-service-ext': { service_type: 'SERVICE_MAGIC' } },
      }),
      rule: 'enum',
    },
    {
      name: 'empty windows-process-ext',
      object: withProperties('process', { extensions: { 'windows-process-ext': {} } }),
      rule: 'at-least-one',
    },
    {
      name: 'cpe 2.2 URI',
      object: withProperties('software', { cpe: 'cpe:/a:microsoft:word:2000' }),
      rule: 'format',
      property: 'cpe',
    },
    {
      name: 'cpe too few fields',
      object: withProperties('software', { cpe: 'cpe:2.3:a:microsoft:word' }),
      rule: 'format',
    },
    {
      name: 'cpe bad part',
      object: withProperties('software', { cpe: 'cpe:2.3:x:microsoft:word:2000:*:*:*:*:*:*:*' }),
      rule: 'format',
    },
    {
      name: 'software language',
      object: withProperties('software', { languages: ['english!'] }),
      rule: 'format',
    },
    {
      name: 'user account empty',
      object: withProperties('user-account', { user_id: undefined }),
      rule: 'at-least-one',
    },
    {
      name: 'unix gid string',
      object: withProperties('user-account', {
        extensions: { 'unix-account-ext': { gid: '1001' } },
      }),
      rule: 'type',
    },
    {
      name: 'registry hive abbreviated',
      object: withProperties('windows-registry-key', { key: 'HKLM\\Software\\Foo' }),
      rule: 'format',
      property: 'key',
    },
    {
      name: 'registry value empty',
      object: withProperties('windows-registry-key', { values: [{}] }),
      rule: 'at-least-one',
    },
    {
      name: 'registry data type unknown',
      object: withProperties('windows-registry-key', {
        values: [{ name: 'a', data_type: 'REG_FOO' }],
      }),
      rule: 'enum',
    },
    {
      name: 'registry creator is identity',
      object: withProperties('windows-registry-key', { creator_user_ref: idOf('identity') }),
      rule: 'ref-type',
    },
    {
      name: 'certificate empty',
      object: withProperties('x509-certificate', { serial_number: undefined }),
      rule: 'at-least-one',
    },
    {
      name: 'certificate empty v3 extensions',
      object: withProperties('x509-certificate', { x509_v3_extensions: {} }),
      rule: 'at-least-one',
    },
    {
      name: 'certificate exponent string',
      object: withProperties('x509-certificate', { subject_public_key_exponent: '65537' }),
      rule: 'type',
    },
    {
      name: 'AS number string',
      object: withProperties('autonomous-system', { number: 'AS15139' }),
      rule: 'type',
    },
    {
      name: 'directory contains url',
      object: withProperties('directory', { contains_refs: [idOf('url')] }),
      rule: 'ref-type',
    },
    {
      name: 'path_enc without path',
      object: withProperties('directory', { path: undefined, path_enc: 'cp1252' }),
      rule: 'dependency',
    },
  ]);
  acceptCases([
    {
      name: 'process with service',
      object: withProperties('process', {
        extensions: {
          'windows-service-ext': {
            service_name: 'sirvizio',
            start_type: 'SERVICE_AUTO_START',
            service_type: 'SERVICE_WIN32_OWN_PROCESS',
            service_status: 'SERVICE_RUNNING',
          },
        },
      }),
    },
    {
      name: 'cpe with escaped colon',
      object: withProperties('software', { cpe: 'cpe:2.3:a:example:foo\\:bar:1.0:*:*:*:*:*:*:*' }),
    },
    {
      name: 'registry lower-case hive',
      object: withProperties('windows-registry-key', {
        key: 'hkey_local_machine\\system\\bar\\foo',
        values: [{ name: 'Foo', data: 'qwerty', data_type: 'REG_SZ' }],
      }),
    },
    {
      name: 'certificate with v3 extensions',
      object: withProperties('x509-certificate', {
        x509_v3_extensions: { basic_constraints: 'critical,CA:TRUE, pathlen:0' },
      }),
    },
  ]);
});
