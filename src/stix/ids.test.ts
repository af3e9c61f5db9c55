import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { v4 as uuidv4 } from 'uuid';
import {
  SCO_ID_NAMESPACE,
  deterministicScoId,
  identifierType,
  isTypeName,
  isUuid,
  parseIdentifier,
} from './index.ts';
import { readSharedJson, stixObjectsIn } from './testing/fixtures.ts';

/**
 * The id python-stix2 (OASIS, commit 2270361) computes for each SCO of its examples
 * bundle, keyed by the id the bundle gives it: the output of its deterministic id checker,
 * which parses each object with its id removed. Process objects get random UUIDv4 ids and
 * are left out.
 */
export const PYTHON_STIX2_IDS: ReadonlyMap<string, string> = new Map([
  [
    'artifact--4cce66f8-6eaa-53cb-85d5-3a85fca3a6c5',
    'artifact--0682152c-646a-513b-bc07-e516494ed178',
  ],
  [
    'artifact--6f437177-6e48-5cf8-9d9e-872a2bddd641',
    'artifact--6be1fbcb-fd03-5ec3-b05f-4329746e9d2b',
  ],
  [
    'artifact--ca17bcf8-9846-5ab4-8662-75c1bf6e63ee',
    'artifact--a785c567-cc53-52a1-abeb-026bb7ddf8ba',
  ],
  [
    'autonomous-system--f720c34b-98ae-597f-ade5-27dc241e8c74',
    'autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff',
  ],
  [
    'directory--255cb0e4-8bdb-5d63-bb32-9c6f0b733ab2',
    'directory--ab82f84a-5afc-5ea7-8d98-9fcbc277eda6',
  ],
  [
    'directory--93c0a9b0-520d-545d-9094-1a08ddf46b05',
    'directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622',
  ],
  [
    'domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5',
    'domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7',
  ],
  [
    'domain-name--ecb120bf-2694-4902-a737-62b74539a41b',
    'domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7',
  ],
  [
    'email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3',
    'email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934',
  ],
  [
    'email-addr--89f52ea8-d6ef-51e9-8fce-6a29236436ed',
    'email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171',
  ],
  [
    'email-addr--d1b3bf0c-f02a-51a1-8102-11aba7959868',
    'email-addr--3734e66b-c4e8-5d0b-bca9-befdd5699746',
  ],
  [
    'email-addr--e4ee5301-b52d-59cd-a8fa-8036738c7194',
    'email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e',
  ],
  [
    'email-message--72b7698f-10c2-565a-a2a6-b4996a2f2265',
    'email-message--92fa1bfd-2c62-5a30-8b7c-5b91ea73cf29',
  ],
  [
    'email-message--cf9b4b7f-14c8-5955-8065-020e0316b559',
    'email-message--d7d69ead-3347-5772-815a-7766dc29c72c',
  ],
  ['file--019fde1c-94ca-5967-8b3c-a906a51d87ac', 'file--70221dbf-52fd-5377-9619-c0ce6b3ffc8c'],
  ['file--1190f2c9-166f-55f1-9706-eea3971d8082', 'file--ba8965d8-e4ec-5f9c-a4df-1c460994ca58'],
  ['file--4b9a516b-4974-4ff8-a50d-a8b8d552ce1f', 'file--ca7d6a8a-b79e-5c3b-b736-8d48adcf0c97'],
  ['file--5a27d487-c542-5f97-a131-a8866b477b46', 'file--39643577-13b7-5f21-9584-df7e7c33f357'],
  ['file--6ce09d9c-0ad3-5ebf-900c-e3cb288955b5', 'file--cfebcece-2336-51b0-baf1-d94daae5e1d1'],
  ['file--73c4cd13-7206-5100-88ef-822c42d3f02c', 'file--ba04c974-3cef-5f42-adc7-084d467874e2'],
  ['file--90bd400b-89a5-51a5-b17d-55bc7719723b', 'file--7d1e3a18-89e7-5bc5-be36-9879f5b7f5c8'],
  ['file--94fc2163-dec3-5715-b824-6e689c4de865', 'file--c0e2b1c9-232d-5b64-8b74-b6aee5bb9c47'],
  ['file--9a1f834d-2506-5367-baec-7aa63996ac43', 'file--391a57ed-e758-5e43-a49e-d2ca3601a5e9'],
  ['file--c7d1e135-8b34-549a-bb47-302f5cf998ed', 'file--66772174-3442-5e0d-b577-4bd7be55fb87'],
  ['file--d07ff290-d7e0-545b-a2ff-04602a9e0b73', 'file--5d0833b7-065e-571f-8bf2-657cb9569570'],
  ['file--e277603e-1060-5ad4-9937-c26c97f1ca68', 'file--949eb97a-da1e-5292-8959-03c4249dc9f3'],
  ['file--ec3415cc-5f4f-5ec8-bdb1-6f86996ae66d', 'file--965aa96f-d90a-506a-8317-d38d44b235f9'],
  ['file--edb1ebee-4387-41cc-943b-f94fd491118c', 'file--3eb55c0e-fe96-588b-a7ab-10f55f7ec596'],
  ['file--fb0419a8-f09c-57f8-be64-71a80417591c', 'file--9af228db-9a04-5787-ad43-ccadc137a0e2'],
  [
    'ipv4-addr--03b708d9-7761-5523-ab75-5ea096294a68',
    'ipv4-addr--826fe3cb-56b0-5620-9d30-4c17ed7b24e3',
  ],
  [
    'ipv4-addr--45f4c6fb-2d7d-576a-a571-edc78d899a72',
    'ipv4-addr--72073c96-1246-5058-8e5c-6ca59d656dee',
  ],
  [
    'ipv4-addr--4d22aae0-2bf9-5427-8819-e4f6abf20a53',
    'ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b',
  ],
  [
    'ipv4-addr--5853f6a4-638f-5b4e-9b0f-ded361ae3812',
    'ipv4-addr--1ea47840-aa39-5aa8-b4a2-cd203eb6662a',
  ],
  [
    'ipv4-addr--6da8dad3-4de3-5f8e-ab23-45d0b8f12f16',
    'ipv4-addr--165070a8-c561-58a8-8659-fce2f255c2c0',
  ],
  [
    'ipv4-addr--84445275-e371-444b-baea-ac7d07a180fd',
    'ipv4-addr--055987b7-7d94-5326-8e20-c3dad8241976',
  ],
  [
    'ipv4-addr--89830c10-2e94-57fa-8ca6-e0537d2719d1',
    'ipv4-addr--f85034be-e4ad-5153-aa6b-79c450eb25b3',
  ],
  [
    'ipv4-addr--b4e29b62-2053-47c4-bab4-bbce39e5ed67',
    'ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4',
  ],
  [
    'ipv4-addr--bb884ffe-f2e4-56bb-a0c3-21f6711cb649',
    'ipv4-addr--23476ffc-8715-5eee-bd37-2f204b7db486',
  ],
  [
    'ipv4-addr--d7177770-fc12-586b-9244-426596a7008e',
    'ipv4-addr--4b8ed646-46df-5a9c-b5a6-b3ae128f35a6',
  ],
  [
    'ipv4-addr--e42c19c8-f9fe-5ae9-9fc8-22c398f78fb7',
    'ipv4-addr--ad74bc22-43d2-52ed-890e-7d382f58e1eb',
  ],
  [
    'ipv4-addr--efcd5e80-570d-4131-b213-62cb18eaa6a8',
    'ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4',
  ],
  [
    'ipv4-addr--f2d3c796-6c1a-5c4f-8516-d4db54727f89',
    'ipv4-addr--13cba85b-1780-5517-b600-7b6546cfd760',
  ],
  [
    'ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd',
    'ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4',
  ],
  [
    'ipv4-addr--ffe65ce3-bf2a-577c-bb7e-947d39198637',
    'ipv4-addr--a2935766-2522-5939-9513-cc3536f212a3',
  ],
  [
    'ipv6-addr--1e61d36c-a16c-53b7-a80f-2a00161c96b1',
    'ipv6-addr--85a85a8c-ee99-5722-946d-3c3a3270fc6f',
  ],
  [
    'ipv6-addr--5daf7456-8863-5481-9d42-237d477697f4',
    'ipv6-addr--084d3b4c-7785-568a-a569-0c61c95754ab',
  ],
  [
    'mac-addr--65cfcf98-8a6e-5a1b-8f61-379ac4f92d00',
    'mac-addr--757b1725-9903-54f5-a855-1240691d7659',
  ],
  ['mutex--eba44954-d4e4-5d3b-814c-2b17dd8de300', 'mutex--f93fe911-e545-5239-b9b0-597840d0c871'],
  [
    'network-traffic--09ca55c3-97e5-5966-bad0-1d41d557ae13',
    'network-traffic--47b27c77-4272-563f-91ca-87e2a4afd6ef',
  ],
  [
    'network-traffic--15a157a8-26e3-56e0-820b-0c2a8e553a2c',
    'network-traffic--c695ada6-5d5d-5446-a661-935874e1d058',
  ],
  [
    'network-traffic--2568d22a-8998-58eb-99ec-3c8ca74f527d',
    'network-traffic--6e0cb830-0305-57d4-8536-7be874d42005',
  ],
  [
    'network-traffic--53e0bf48-2eee-5c03-8bde-ed7049d2c0a3',
    'network-traffic--8dce0dc4-f5ea-5313-8e6c-03646d419b6a',
  ],
  [
    'network-traffic--630d7bb1-0bbc-53a6-a6d4-f3c2d35c2734',
    'network-traffic--44eb3012-751d-5c12-b9ba-1506e42e26ef',
  ],
  [
    'network-traffic--65a6016d-a91c-5781-baad-178cd55f01d4',
    'network-traffic--27ed09d5-f85a-5a8e-8590-49a91d7e510e',
  ],
  [
    'network-traffic--ac267abc-1a41-536d-8e8d-98458d9bf491',
    'network-traffic--372c0c73-777a-50de-bc3a-92cc72fcf7dd',
  ],
  [
    'network-traffic--b4a8c150-e214-57a3-9017-e85dfa345f46',
    'network-traffic--fc1686c0-b36e-5041-9ce4-c8df9cf10d6d',
  ],
  [
    'network-traffic--c95e972a-20a4-5307-b00d-b8393faf02c5',
    'network-traffic--59d8852c-0c68-5e0c-8ae2-f3c46bd7b1df',
  ],
  [
    'network-traffic--e7a939ca-78c6-5f27-8ae0-4ad112454626',
    'network-traffic--4f156a67-4efc-58fb-b0a7-f2612927a37d',
  ],
  [
    'network-traffic--f8ae967a-3dc3-5cdf-8f94-8505abff00c2',
    'network-traffic--fdd6dbda-a206-52fe-b19b-64d908748850',
  ],
  [
    'software--a1827f6d-ca53-5605-9e93-4316cd22a00a',
    'software--710b0b41-d4d0-5d6c-a400-fc9254554ffc',
  ],
  ['url--c1477287-23ac-5971-a010-5c287877fa60', 'url--47c3cf9a-5027-5bf0-997a-017c7edc7c55'],
  [
    'user-account--0d5b424b-93b8-5cd8-ac36-306e1789d63c',
    'user-account--f94d689e-707d-58c3-b803-c720bb6ed096',
  ],
  [
    'user-account--9bd3afcf-deee-54f9-83e2-520653cb6bba',
    'user-account--f223e803-846b-591a-aefa-545e938f8a56',
  ],
  [
    'windows-registry-key--2ba37ae7-2745-5082-9dfd-9486dad41016',
    'windows-registry-key--f6a11ddf-fa2b-54c8-97ab-e7f28413095a',
  ],
  [
    'windows-registry-key--9d60798d-4e3e-5fe4-af8a-0e4986f0f90b',
    'windows-registry-key--1884b770-b679-522a-a9c7-45fadaaec7bb',
  ],
  [
    'x509-certificate--463d7b2a-8516-5a50-a3d7-6f801465d5de',
    'x509-certificate--bf86f034-2390-54d7-8426-d08433db3fbe',
  ],
  [
    'x509-certificate--b595eaf0-0b28-5dad-9e8e-0fab9c1facc9',
    'x509-certificate--5adb038a-160d-5d1c-826e-bde4926a0d2d',
  ],
]);

describe('deterministicScoId', () => {
  const examples = stixObjectsIn(
    readSharedJson('oasis-test-data/cti-python-stix2/sco-examples-bundle.json'),
  );
  test('examples loaded', () => assert.equal(examples.length, 82));
  for (const object of examples) {
    if (object.type === 'process') continue;
    const id = object.id as string;
    test(`${id} matches python-stix2`, () => {
      const expected = PYTHON_STIX2_IDS.get(id);
      assert.ok(expected, `no python-stix2 id for ${id}`);
      assert.equal(deterministicScoId(object), expected);
    });
  }
  test('specification example', () =>
    assert.equal(
      deterministicScoId({ type: 'ipv4-addr', value: '198.51.100.3' }),
      'ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4',
    ));
  test('id and other properties ignored', () =>
    assert.equal(
      deterministicScoId({
        type: 'ipv4-addr',
        id: 'ipv4-addr--x',
        value: '198.51.100.3',
        resolves_to_refs: ['a'],
      }),
      deterministicScoId({ type: 'ipv4-addr', value: '198.51.100.3' }),
    ));
  test('key order ignored', () =>
    assert.equal(
      deterministicScoId({ type: 'user-account', user_id: '1', account_login: 'a' }),
      deterministicScoId({ account_login: 'a', user_id: '1', type: 'user-account' }),
    ));
  test('MD5 preferred', () => {
    const md5 = 'a92e5b2bae0b4b3a3d81c85610b95cd4';
    assert.equal(
      deterministicScoId({ type: 'file', hashes: { 'SHA-256': 'ab'.repeat(32), MD5: md5 } }),
      deterministicScoId({ type: 'file', hashes: { MD5: md5 } }),
    );
  });
  test('SHA-256 before SHA-512', () =>
    assert.equal(
      deterministicScoId({
        type: 'file',
        hashes: { 'SHA-512': 'cd'.repeat(64), 'SHA-256': 'ab'.repeat(32) },
      }),
      deterministicScoId({ type: 'file', hashes: { 'SHA-256': 'ab'.repeat(32) } }),
    ));
  test('other algorithm used when alone', () =>
    assert.notEqual(
      deterministicScoId({ type: 'file', hashes: { TLSH: 'a'.repeat(70) } }),
      undefined,
    ));
  test('UUID is version 5', () => {
    const id = deterministicScoId({ type: 'url', value: 'https://example.com/' }) ?? '';
    assert.equal(id.split('--')[1]?.[14], '5');
    assert.ok(isUuid(id.split('--')[1] ?? ''));
  });
  test('process has none', () =>
    assert.equal(deterministicScoId({ type: 'process', pid: 1 }), undefined));
  test('no contributing property', () =>
    assert.equal(deterministicScoId({ type: 'file', size: 3 }), undefined));
  test('empty hashes only', () =>
    assert.equal(deterministicScoId({ type: 'file', hashes: {} }), undefined));
  test('SDO has none', () =>
    assert.equal(deterministicScoId({ type: 'indicator', name: 'x' }), undefined));
  test('custom type has none', () =>
    assert.equal(deterministicScoId({ type: 'x-acme', value: 'x' }), undefined));
  test('missing type', () => assert.equal(deterministicScoId({ value: 'x' }), undefined));
  test('lone surrogate', () =>
    assert.equal(deterministicScoId({ type: 'mutex', name: '\ud800' }), undefined));
  test('namespace from the specification', () =>
    assert.equal(SCO_ID_NAMESPACE, '00abedb4-aa42-466c-9c01-fed23315a9b7'));
});

describe('identifiers', () => {
  test('parse', () =>
    assert.deepEqual(parseIdentifier('attack-pattern--6ba7b810-9dad-41d1-80b4-00c04fd430c8'), {
      type: 'attack-pattern',
      uuid: '6ba7b810-9dad-41d1-80b4-00c04fd430c8',
    }));
  test('type part', () =>
    assert.equal(
      identifierType('x-mitre-tactic--6ba7b810-9dad-41d1-80b4-00c04fd430c8'),
      'x-mitre-tactic',
    ));
  const invalid = [
    '',
    '--6ba7b810-9dad-41d1-80b4-00c04fd430c8',
    'indicator-6ba7b810-9dad-41d1-80b4-00c04fd430c8',
    'indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c',
    'indicator--6ba7b810-9dad-01d1-80b4-00c04fd430c8',
    'indicator--6ba7b810-9dad-41d1-70b4-00c04fd430c8',
    'Indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8',
    'indicator----6ba7b810-9dad-41d1-80b4-00c04fd430c8',
    'indicator--../6ba7b810-9dad-41d1-80b4-00c04fd430c8',
    'indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8/..',
    ` indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8`,
  ];
  for (const value of invalid) {
    test(`${JSON.stringify(value)} rejected`, () =>
      assert.equal(parseIdentifier(value), undefined));
  }
  test('random UUIDv4 accepted', () => {
    for (let i = 0; i < 100; i++) assert.ok(isUuid(uuidv4()));
  });
});

describe('type names', () => {
  for (const name of [
    'abc',
    'attack-pattern',
    'x-mitre-data-component',
    'x-a1',
    `a${'b'.repeat(249)}`,
    'abc-',
  ]) {
    test(`${name.slice(0, 30)} valid`, () => assert.ok(isTypeName(name)));
  }
  for (const name of [
    'ab',
    'Abc',
    '1abc',
    '-abc',
    'a--b',
    'a_b',
    'a.b',
    'a b',
    `a${'b'.repeat(250)}`,
    'ümlaut',
  ]) {
    test(`${name.slice(0, 30)} invalid`, () => assert.equal(isTypeName(name), false));
  }
});
