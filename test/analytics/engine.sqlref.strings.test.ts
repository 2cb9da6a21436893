// The SQL reference's String and Search and Null functions, each page's Function → Result table
// run through the engine unchanged (the tables are the oracle; docs/kda-sql-coverage.md lists them).
import { expectTable, evalExprs } from './sqlref.js';

describe('String and Search Functions (SQL reference tables)', () => {
  it('CHAR_LENGTH / CHARACTER_LENGTH, CHAR(n) padded to its length', async () => {
    await expectTable([
      ["CHAR_LENGTH('one')", 3], ["CHAR_LENGTH('')", 0], ["CHARACTER_LENGTH('fred')", 4],
      ['CHARACTER_LENGTH( cast (null as varchar(16) ))', null], ["CHARACTER_LENGTH( cast ('fred' as char(16) ))", 16],
    ], 'INTEGER');
  });

  it('INITCAP, LOWER, UPPER', async () => {
    await expectTable([
      ["INITCAP('Each FIRST lEtTeR is cAPITALIZED')", 'Each First Letter Is Capitalized'],
      ["LOWER('abcDEFghi123')", 'abcdefghi123'], ["UPPER('abcDEFghi123')", 'ABCDEFGHI123'],
    ], 'VARCHAR(64)');
  });

  it('POSITION', async () => {
    await expectTable([
      ["POSITION ('findme' IN '1234findmeXXX')", 5], ["POSITION ('findme' IN '1234not-hereXXX')", 0],
      ["POSITION ('1' IN '1234567')", 1], ["POSITION ('7' IN '1234567')", 7], ["POSITION ('' IN '1234567')", 1],
    ], 'INTEGER');
  });

  it('SUBSTRING: FROM/FOR, FROM regex, numeric and SIMILAR … ESCAPE', async () => {
    await expectTable([
      ["SUBSTRING('123456789' FROM 3 FOR 4)", '3456'], ["SUBSTRING('123456789' FROM 17 FOR 4)", ''],
      ["SUBSTRING('123456789' FROM -1 FOR 4)", '12'], ["SUBSTRING('123456789' FROM 6 FOR 0)", ''],
      ["SUBSTRING('123456789' FROM 8 FOR 4)", '89'],
      ["SUBSTRING('TECHNOLOGY' FROM 'L[A-Z]*')", 'LOGY'], ["SUBSTRING('TECHNOLOGY' FROM 'FOO')", null],
      ["SUBSTRING('TECHNOLOGY' FROM 'O[A-Z]')", 'OL'],
      ["SUBSTRING('123456789', 3, 4)", '3456'], ["SUBSTRING('123456789', 7, 4)", '789'], ["SUBSTRING('123456789', 10, 4)", null],
      [`SUBSTRING('123456789' SIMILAR '23#"456#"78' ESCAPE '#')`, '456'],
      [`SUBSTRING('TECHNOLOGY' SIMILAR 'TECH%"NOLO%"GY' ESCAPE '%')`, 'NOLO'],
    ], 'VARCHAR(16)');
    // On a column too, and without FOR: the rest of the string.
    expect(await evalExprs(['SUBSTRING(SECTOR FROM 2)', 'SUBSTRING(TICKER_SYMBOL, 0, 2)'], 'VARCHAR(16)')).toEqual(['ECH', 'A']);
  });

  it('TRIM', async () => {
    await expectTable([
      ["TRIM(' Trim front and back ')", 'Trim front and back'], ["TRIM (BOTH FROM ' Trim front and back ')", 'Trim front and back'],
      ["TRIM (BOTH ' ' FROM ' Trim front and back ')", 'Trim front and back'], ["TRIM (LEADING 'x' FROM 'xxxTrim frontxxx')", 'Trim frontxxx'],
      ["TRIM (TRAILING 'x' FROM 'xxxTrimxBackxxx')", 'xxxTrimxBack'], ["TRIM (BOTH 'y' FROM 'xxxNo y to trimxxx')", 'xxxNo y to trimxxx'],
    ], 'VARCHAR(32)');
  });
});

describe('Null Functions (SQL reference tables)', () => {
  it('COALESCE', async () => {
    await expectTable([["COALESCE('chair')", 'chair'], ["COALESCE('chair', null, 'sofa')", 'chair'], ["COALESCE(null, null, 'sofa')", 'sofa']], 'VARCHAR(8)');
    await expectTable([['COALESCE(null, 2, 5)', 2]], 'INTEGER');
  });

  it('NULLIF', async () => {
    await expectTable([['NULLIF(4,2)', 4], ['NULLIF(4,4)', null]], 'INTEGER');
    await expectTable([["NULLIF('amy','fred')", 'amy'], ["NULLIF('amy', cast(null as varchar(3)))", 'amy'], ["NULLIF(cast(null as varchar(3)),'fred')", null]], 'VARCHAR(4)');
  });
});

describe('Streaming SQL Operators (SQL reference tables)', () => {
  it('arithmetic: integer operands divide as integers', async () => {
    await expectTable([['1 + 1', 2], ['5 / 2', 2], ['5*2+2', 12]], 'INTEGER');
    await expectTable([['2.0 + 2.0', 4], ['3.0 + 2', 5], ['5.0 / 2', 2.5]], 'DOUBLE');
  });

  it('IN, IS [NOT] DISTINCT FROM (not taken for the FROM clause), LIKE, SIMILAR TO', async () => {
    await expectTable([
      ["TICKER_SYMBOL IN ('A','AMZN','C')", true], ['N IS DISTINCT FROM NULL', true], ['N IS NOT DISTINCT FROM 1', true],
      ["'AMZN' LIKE 'A%'", true], ["'AMZN' LIKE '_M_'", false], ["'AMZN' SIMILAR TO 'A(M|X)+ZN'", true],
    ], 'BOOLEAN');
  });
});
